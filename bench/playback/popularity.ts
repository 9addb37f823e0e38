import { zipfExponentFor } from '../cache-policy/chunk-workload.js'

/**
 * Track popularity shaped like Spotify's (Kreitz & Niemela 2010): a Zipf law whose exponent is
 * solved so that the top `topFraction` of the catalog takes `topShare` of the plays (88 % of
 * plays to the top 12 % of tracks by default). Ranks are 0-based: rank 0 is the most played.
 */
export interface Popularity {
  readonly count: number
  readonly exponent: number
  /** A rank drawn by popularity. */
  sample(random: () => number): number
  /** The share of plays rank `rank` gets. */
  share(rank: number): number
}

/** Solving for the exponent sums the whole catalog sixty times: once per catalog size is enough. */
const exponents = new Map<string, number>()

export function createPopularity(count: number, options: { topFraction?: number; topShare?: number } = {}): Popularity {
  if (!Number.isInteger(count) || count < 1) throw new RangeError(`popularity needs a whole number of tracks >= 1, not ${count}`)
  const topFraction = options.topFraction ?? 0.12
  const topShare = options.topShare ?? 0.88
  const key = `${count}/${topFraction}/${topShare}`
  let exponent = exponents.get(key)
  if (exponent === undefined) {
    exponent = count === 1 ? 0 : zipfExponentFor(count, topFraction, topShare)
    exponents.set(key, exponent)
  }
  const cdf = new Float64Array(count)
  let total = 0
  for (let rank = 0; rank < count; rank++) {
    total += (rank + 1) ** -exponent
    cdf[rank] = total
  }
  for (let rank = 0; rank < count; rank++) cdf[rank]! /= total
  return {
    count,
    exponent,
    sample(random) {
      const u = random()
      let lo = 0
      let hi = count - 1
      while (lo < hi) {
        const mid = (lo + hi) >> 1
        if (cdf[mid]! > u) hi = mid
        else lo = mid + 1
      }
      return lo
    },
    share: (rank) => cdf[rank]! - (rank > 0 ? cdf[rank - 1]! : 0),
  }
}

/** Share of `plays` (ranks) that went to the top `topFraction` of a catalog of `count` tracks. */
export function topShareOf(plays: readonly number[], count: number, topFraction = 0.12): number {
  if (plays.length === 0) return Number.NaN
  const top = Math.max(1, Math.round(count * topFraction))
  return plays.filter((rank) => rank < top).length / plays.length
}
