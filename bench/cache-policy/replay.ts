/** Replays a trace through one eviction policy, optionally behind an admission filter. */
import { createAdmissionFilter, createPolicy } from '../../edge/core.js'
import type { PolicyName } from '../../edge/core.js'
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
  /** Bytes of the missed requests over bytes of all requests. */
  readonly byteMissRatio: number
  readonly ms: number
}

export function replay(trace: Trace, variant: Variant, capacityBytes: number): ReplayResult {
  const { requests, keyNames, sizes } = trace
  const policy = createPolicy(variant.policy, capacityBytes)
  const started = performance.now()
  let misses = 0
  let missedBytes = 0
  if (variant.admitAfter <= 1) {
    for (let i = 0; i < requests.length; i++) {
      const id = requests[i] as number
      const size = sizes[id] as number
      if (!policy.access(keyNames[id] as string, size).hit) {
        misses++
        missedBytes += size
      }
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
      missedBytes += size
      if (admission.record(key)) policy.access(key, size)
    }
  }
  const ms = performance.now() - started
  const n = requests.length
  const total = requestedBytes(trace)
  return { misses, requests: n, missRatio: n === 0 ? 0 : misses / n, byteMissRatio: total === 0 ? 0 : missedBytes / total, ms }
}

const requestedBytesCache = new WeakMap<Trace, number>()

/** Bytes of all requests (each request counts its object's size). */
export function requestedBytes(trace: Trace): number {
  let total = requestedBytesCache.get(trace)
  if (total === undefined) {
    total = 0
    for (let i = 0; i < trace.requests.length; i++) total += trace.sizes[trace.requests[i] as number] as number
    requestedBytesCache.set(trace, total)
  }
  return total
}
