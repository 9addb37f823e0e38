/** Replays a trace through one eviction policy, optionally behind an admission filter. */
import { createAdmissionFilter, createPolicy } from '../../edge/src/policy/index.js'
import type { PolicyName } from '../../edge/src/policy/index.js'
import type { Trace } from './trace.js'

export interface Variant {
  /** Shown in tables and charts, e.g. "s3fifo+admit2". */
  readonly label: string
  readonly policy: PolicyName
  readonly admitAfter: number
}

export interface ReplayResult {
  readonly misses: number
  readonly requests: number
  readonly missRatio: number
  readonly ms: number
}

export function replay (trace: Trace, variant: Variant, capacityBytes: number): ReplayResult {
  const { requests, keyNames, sizes } = trace
  const policy = createPolicy(variant.policy, capacityBytes)
  const started = performance.now()
  let misses = 0
  if (variant.admitAfter <= 1) {
    for (let i = 0; i < requests.length; i++) {
      const id = requests[i] as number
      if (!policy.access(keyNames[id] as string, sizes[id] as number).hit) misses++
    }
  } else {
    // As in the memory cache: every miss counts as a request for admission.
    const admission = createAdmissionFilter({ admitAfter: variant.admitAfter })
    for (let i = 0; i < requests.length; i++) {
      const id = requests[i] as number
      const key = keyNames[id] as string
      const size = sizes[id] as number
      if (policy.has(key)) {
        policy.access(key, size)
        continue
      }
      misses++
      if (admission.record(key)) policy.access(key, size)
    }
  }
  const ms = performance.now() - started
  return { misses, requests: requests.length, missRatio: requests.length === 0 ? 0 : misses / requests.length, ms }
}
