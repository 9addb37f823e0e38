// Latencies in 10 us buckets up to 2 s (beyond: the last bucket): cheap to record per message,
// mergeable across load processes.

const BUCKET_US = 10
const BUCKETS = 200_000

export function createHistogram(): Uint32Array {
  return new Uint32Array(BUCKETS)
}

export function record(histogram: Uint32Array, ms: number): void {
  const bucket = Math.min(BUCKETS - 1, Math.floor((ms * 1000) / BUCKET_US))
  histogram[bucket] = (histogram[bucket] as number) + 1
}

export function merge(into: Uint32Array, from: ArrayLike<number>): void {
  for (let i = 0; i < BUCKETS; i++) into[i] = (into[i] as number) + (from[i] ?? 0)
}

/** The q-quantile (0..1) in milliseconds, at the upper edge of its bucket. */
export function quantile(histogram: Uint32Array, q: number): number {
  let total = 0
  for (const n of histogram) total += n
  if (total === 0) return Number.NaN
  const rank = Math.ceil(q * total)
  let seen = 0
  for (let i = 0; i < BUCKETS; i++) {
    seen += histogram[i] as number
    if (seen >= rank) return ((i + 1) * BUCKET_US) / 1000
  }
  return Number.NaN
}

/** Sparse form for IPC: [bucket, count] pairs. */
export function toSparse(histogram: Uint32Array): Array<[number, number]> {
  const pairs: Array<[number, number]> = []
  histogram.forEach((n, i) => {
    if (n > 0) pairs.push([i, n])
  })
  return pairs
}

export function fromSparse(pairs: Array<[number, number]>): Uint32Array {
  const histogram = createHistogram()
  for (const [i, n] of pairs) histogram[i] = n
  return histogram
}
