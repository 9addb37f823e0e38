/**
 * The edge's first tier: values held in the isolate's memory, bounded in
 * bytes, evicted by a pluggable policy and optionally guarded by an
 * "admit after N requests" filter.
 *
 * Each set() of a key that is not cached counts as one request for it, which
 * matches the Worker's flow (get misses, fetch from the next tier, set): with
 * admitAfter=2 a chunk is kept from its second miss on.
 */
import { createAdmissionFilter } from './policy/admission.js'
import { createPolicy, isPolicyName, POLICY_NAMES } from './policy/create-policy.js'
import type { AdmissionFilter } from './policy/admission.js'
import type { EvictionPolicy, PolicyName } from './policy/types.js'

export interface MemoryCacheOptions {
  /** Upper bound of the sum of the sizes given to set(). */
  maxBytes: number
  /** Eviction policy; default 'chunk-aware'. */
  policy?: PolicyName
  /** Requests (set() calls) a key needs before it is stored; default 1. */
  admitAfter?: number
  /** Records between two halvings of the admission counts; default 32768. */
  admissionWindow?: number
}

export interface MemoryCacheStats {
  readonly policy: PolicyName
  readonly maxBytes: number
  readonly entries: number
  readonly bytes: number
  readonly hits: number
  readonly misses: number
  /** set() calls that stored their value. */
  readonly admitted: number
  /** set() calls turned away by the admission filter or for being too big. */
  readonly rejected: number
  /** Entries pushed out by the policy (not deletions). */
  readonly evictions: number
}

export interface MemoryCache<V> {
  get(key: string): V | undefined
  /** Like get() but records nothing: no hit, no recency. */
  peek(key: string): V | undefined
  has(key: string): boolean
  /**
   * Stores `value`, counted as `size` bytes; false when not admitted. `readAhead`: stored ahead
   * of any request for it (the edge's read-ahead), which a policy may hold more cheaply.
   */
  set(key: string, value: V, size: number, options?: { readAhead?: boolean }): boolean
  delete(key: string): boolean
  /** Deletes every key starting with `prefix`, or matching `predicate`; returns how many. */
  deleteWhere(match: string | ((key: string, value: V) => boolean)): number
  clear(): void
  stats(): MemoryCacheStats
}

interface Slot<V> {
  value: V
  size: number
}

export function createMemoryCache<V>(options: MemoryCacheOptions): MemoryCache<V> {
  if (options === null || typeof options !== 'object') {
    throw new TypeError('options must be an object with maxBytes')
  }
  const { maxBytes } = options
  if (typeof maxBytes !== 'number' || !Number.isSafeInteger(maxBytes) || maxBytes < 1) {
    throw new TypeError(`maxBytes must be a positive integer, got ${String(maxBytes)}`)
  }
  const policyName = options.policy ?? 'chunk-aware'
  if (!isPolicyName(policyName)) {
    throw new TypeError(`policy must be one of ${POLICY_NAMES.join(', ')}, got ${String(policyName)}`)
  }
  const admitAfter = options.admitAfter ?? 1
  if (typeof admitAfter !== 'number' || !Number.isInteger(admitAfter) || admitAfter < 1 || admitAfter > 255) {
    throw new TypeError(`admitAfter must be an integer from 1 to 255, got ${String(admitAfter)}`)
  }
  const admissionWindow = options.admissionWindow ?? 32768
  if (typeof admissionWindow !== 'number' || !Number.isInteger(admissionWindow) || admissionWindow < 1) {
    throw new TypeError(`admissionWindow must be a positive integer, got ${String(admissionWindow)}`)
  }

  let policy: EvictionPolicy = createPolicy(policyName, maxBytes)
  let admission: AdmissionFilter = createAdmissionFilter({ admitAfter, window: admissionWindow })
  const slots = new Map<string, Slot<V>>()
  let hits = 0
  let misses = 0
  let admitted = 0
  let rejected = 0
  let evictions = 0

  function checkKey(key: unknown): asserts key is string {
    if (typeof key !== 'string') throw new TypeError(`key must be a string, got ${typeof key}`)
  }

  function drop(key: string): boolean {
    if (!slots.delete(key)) return false
    policy.remove(key)
    return true
  }

  return {
    get(key) {
      checkKey(key)
      const slot = slots.get(key)
      if (slot === undefined) {
        misses++
        return undefined
      }
      hits++
      policy.access(key, slot.size)
      return slot.value
    },

    peek(key) {
      checkKey(key)
      return slots.get(key)?.value
    },

    has(key) {
      checkKey(key)
      return slots.has(key)
    },

    set(key, value, size, options) {
      const readAhead = options?.readAhead === true
      checkKey(key)
      if (typeof size !== 'number' || !(size >= 0 && size <= Number.MAX_SAFE_INTEGER)) {
        throw new TypeError(`size must be a non-negative finite number, got ${String(size)}`)
      }
      const slot = slots.get(key)
      if (slot !== undefined && slot.size === size) {
        slot.value = value
        policy.access(key, size, readAhead)
        admitted++
        return true
      }
      if (slot === undefined && !admission.record(key)) {
        rejected++
        return false
      }
      const result = policy.access(key, size, readAhead)
      for (const gone of result.evicted) {
        slots.delete(gone)
        evictions++
      }
      if (!result.stored) {
        // A replaced value that no longer fits leaves no stale copy behind.
        slots.delete(key)
        rejected++
        return false
      }
      slots.set(key, { value, size })
      admitted++
      return true
    },

    delete(key) {
      checkKey(key)
      return drop(key)
    },

    deleteWhere(match) {
      let test: (key: string, value: V) => boolean
      if (typeof match === 'string') {
        if (match === '') throw new TypeError('prefix must not be empty; use clear() to drop everything')
        test = (key) => key.startsWith(match)
      } else if (typeof match === 'function') {
        test = match
      } else {
        throw new TypeError('deleteWhere needs a key prefix (string) or a predicate (function)')
      }
      const doomed: string[] = []
      for (const [key, slot] of slots) if (test(key, slot.value)) doomed.push(key)
      for (const key of doomed) drop(key)
      return doomed.length
    },

    clear() {
      slots.clear()
      policy = createPolicy(policyName, maxBytes)
      admission = createAdmissionFilter({ admitAfter, window: admissionWindow })
    },

    stats() {
      return {
        policy: policyName,
        maxBytes,
        entries: slots.size,
        bytes: policy.bytes,
        hits,
        misses,
        admitted,
        rejected,
        evictions,
      }
    },
  }
}
