/**
 * mulberry32: small, seedable, the same numbers on every platform. The one seeded PRNG in the
 * tree: the edge's chunk-aware policy, the demo catalog's synthesis, the benchmarks' workloads and
 * every part's tests (through test-support/seeded.ts). Not a wire format, but protocol/ is the one
 * module every pure core may import, so it lives here.
 */
export function seeded(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let x = a
    x = Math.imul(x ^ (x >>> 15), x | 1)
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61)
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}
