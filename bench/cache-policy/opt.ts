/**
 * Belady's OPT: on a miss, evict the cached object whose next request is
 * farthest in the future (or never). An object whose own next request is
 * farther than every cached one's is not cached at all ("bypass"). Bypass
 * can only save misses over classic demand-paging MIN, and it is what makes
 * OPT a lower bound for caches that may decline to store an object too, as
 * the admission-filtered variants do.
 *
 * With equal sizes this is exact: the fewest misses any policy can have.
 * With variable sizes the exact problem is NP-hard; this is the standard
 * approximation (evict farthest-next-use until the object fits), not a bound.
 *
 * O(n log n): a max-heap of next-use positions with lazy deletion. A
 * position is unique to one request, so it names its key without a side
 * table; "never" is encoded as n + keyId so it is unique too.
 */
import type { Trace } from './trace.js'

export interface OptResult {
  readonly misses: number
  readonly requests: number
  readonly missRatio: number
  /**
   * Missed bytes over requested bytes of the same schedule. OPT minimises
   * misses, not bytes: with variable sizes this is a reference, not a bound.
   */
  readonly byteMissRatio: number
  /** True when every object has the same size (the result is then exact). */
  readonly exact: boolean
}

export function nextUses(requests: Int32Array, keyCount: number): Int32Array {
  const n = requests.length
  const next = new Int32Array(n)
  const last = new Int32Array(keyCount)
  for (let k = 0; k < keyCount; k++) last[k] = n + k
  for (let i = n - 1; i >= 0; i--) {
    const id = requests[i] as number
    next[i] = last[id] as number
    last[id] = i
  }
  return next
}

export function belady(trace: Trace, capacityBytes: number): OptResult {
  const { requests, sizes } = trace
  const n = requests.length
  const keyCount = sizes.length
  if (n + keyCount > 0x7fffffff) throw new RangeError('trace too long for 32-bit positions')
  const next = nextUses(requests, keyCount)
  const cached = new Uint8Array(keyCount)
  const current = new Int32Array(keyCount)
  const heap = new Int32Array(n + 1)
  let heapSize = 0
  let used = 0
  let misses = 0
  let missedBytes = 0
  let requestedBytes = 0
  let exact = true
  for (let k = 1; k < keyCount; k++) if (sizes[k] !== sizes[0]) exact = false

  const keyAt = (position: number): number => (position < n ? (requests[position] as number) : position - n)
  const push = (value: number): void => {
    let i = heapSize++
    while (i > 0) {
      const parent = (i - 1) >> 1
      const p = heap[parent] as number
      if (p >= value) break
      heap[i] = p
      i = parent
    }
    heap[i] = value
  }
  const pop = (): void => {
    const last = heap[--heapSize] as number
    let i = 0
    for (;;) {
      const left = 2 * i + 1
      if (left >= heapSize) break
      const right = left + 1
      let child = left
      if (right < heapSize && (heap[right] as number) > (heap[left] as number)) child = right
      if ((heap[child] as number) <= last) break
      heap[i] = heap[child] as number
      i = child
    }
    heap[i] = last
  }
  // The farthest next use among cached objects, dropping stale heap entries.
  const farthest = (): number => {
    while (heapSize > 0) {
      const top = heap[0] as number
      const key = keyAt(top)
      if (cached[key] === 1 && current[key] === top) return top
      pop()
    }
    return -1
  }

  for (let i = 0; i < n; i++) {
    const id = requests[i] as number
    const nu = next[i] as number
    requestedBytes += sizes[id] as number
    if (cached[id] === 1) {
      current[id] = nu
      push(nu)
      continue
    }
    misses++
    const size = sizes[id] as number
    missedBytes += size
    if (size > capacityBytes || nu >= n) continue
    let bypass = false
    while (used + size > capacityBytes) {
      const top = farthest()
      if (top < 0 || top <= nu) {
        bypass = true
        break
      }
      const victim = keyAt(top)
      cached[victim] = 0
      used -= sizes[victim] as number
      pop()
    }
    if (bypass) continue
    cached[id] = 1
    current[id] = nu
    used += size
    push(nu)
  }
  return {
    misses,
    requests: n,
    missRatio: n === 0 ? 0 : misses / n,
    byteMissRatio: requestedBytes === 0 ? 0 : missedBytes / requestedBytes,
    exact,
  }
}
