/**
 * A synthetic edge workload shaped like Spotify's music-on-demand traffic
 * (Kreitz and Niemela, P2P 2010): skewed track popularity, plays that fetch a
 * track's chunks in order from the start, and most plays ending early.
 *
 * - Popularity: Zipf over the catalog, exponent solved so the top
 *   `topTrackShare` of tracks get `topPlayShare` of plays (12 % -> 88 %).
 * - Tracks: minChunks..maxChunks chunks of chunkBytes (32 KiB, about 1.6 s of
 *   160 kbit/s audio, so 150-250 chunks is 4-7 minutes).
 * - A play requests chunks 0..k-1: `completeShare` of plays run to the end,
 *   `earlySkipShare` skip within the first ~30 s (earlySkipChunks), the rest
 *   stop at a uniformly random point.
 * - Listeners: `listeners` concurrent sessions, interleaved at random, each
 *   starting a new play when its current one ends; an edge sees many streams
 *   at once, not one play after another.
 */
import { createPrng } from './prng.js'
import { compactTrace } from './trace.js'
import type { Trace } from './trace.js'

export interface ChunkWorkloadOptions {
  seed?: number
  tracks?: number
  plays?: number
  listeners?: number
  minChunks?: number
  maxChunks?: number
  chunkBytes?: number
  topTrackShare?: number
  topPlayShare?: number
  completeShare?: number
  earlySkipShare?: number
  earlySkipChunks?: number
}

export interface ChunkWorkload extends Trace {
  readonly params: Required<ChunkWorkloadOptions> & { zipfExponent: number }
  /** What was generated, to check the shape against the targets. */
  readonly shape: {
    /** Share of plays that went to the top topTrackShare of tracks (by rank). */
    readonly topPlayShare: number
    /** Share of plays that stopped or skipped before the last chunk. */
    readonly endedEarlyShare: number
    readonly meanChunksPerPlay: number
  }
}

const DEFAULTS: Required<ChunkWorkloadOptions> = {
  seed: 1,
  tracks: 5000,
  plays: 20000,
  listeners: 64,
  minChunks: 150,
  maxChunks: 250,
  chunkBytes: 32 * 1024,
  topTrackShare: 0.12,
  topPlayShare: 0.88,
  completeShare: 0.3,
  earlySkipShare: 0.3,
  earlySkipChunks: 19
}

/** Exponent s of a Zipf law over n ranks that gives the top fraction that share. */
export function zipfExponentFor (n: number, topFraction: number, share: number): number {
  const top = Math.max(1, Math.round(n * topFraction))
  const topShare = (s: number): number => {
    let head = 0
    let all = 0
    for (let rank = 1; rank <= n; rank++) {
      const w = rank ** -s
      all += w
      if (rank <= top) head += w
    }
    return head / all
  }
  let low = 0
  let high = 8
  for (let i = 0; i < 60; i++) {
    const mid = (low + high) / 2
    if (topShare(mid) < share) low = mid
    else high = mid
  }
  return (low + high) / 2
}

export function createChunkWorkload (options: ChunkWorkloadOptions = {}): ChunkWorkload {
  const p = { ...DEFAULTS, ...options }
  if (p.maxChunks > 255 || p.minChunks < 1 || p.minChunks > p.maxChunks) {
    throw new RangeError('need 1 <= minChunks <= maxChunks <= 255')
  }
  const rand = createPrng(p.seed)
  const lengths = new Int32Array(p.tracks)
  for (let t = 0; t < p.tracks; t++) lengths[t] = p.minChunks + Math.floor(rand() * (p.maxChunks - p.minChunks + 1))

  // Track t has popularity rank t + 1; sampling by binary search on the CDF.
  const exponent = zipfExponentFor(p.tracks, p.topTrackShare, p.topPlayShare)
  const cdf = new Float64Array(p.tracks)
  let total = 0
  for (let t = 0; t < p.tracks; t++) {
    total += (t + 1) ** -exponent
    cdf[t] = total
  }
  const pickTrack = (): number => {
    const u = rand() * total
    let low = 0
    let high = p.tracks - 1
    while (low < high) {
      const mid = (low + high) >>> 1
      if ((cdf[mid] as number) < u) low = mid + 1
      else high = mid
    }
    return low
  }
  const topTracks = Math.max(1, Math.round(p.tracks * p.topTrackShare))
  let started = 0
  let toTop = 0
  let endedEarly = 0
  let chunksPlayed = 0
  const startPlay = (): { track: number, next: number, end: number } => {
    const track = pickTrack()
    const length = lengths[track] as number
    const r = rand()
    let end: number
    if (r < p.completeShare) end = length
    else if (r < p.completeShare + p.earlySkipShare) end = 1 + Math.floor(rand() * Math.min(length, p.earlySkipChunks))
    else end = 1 + Math.floor(rand() * length)
    started++
    if (track < topTracks) toTop++
    if (end < length) endedEarly++
    chunksPlayed += end
    return { track, next: 0, end }
  }

  const active: Array<{ track: number, next: number, end: number }> = []
  for (let i = 0; i < Math.min(p.listeners, p.plays); i++) active.push(startPlay())
  const raw: number[] = []
  while (active.length > 0) {
    const slot = Math.floor(rand() * active.length)
    const play = active[slot] as { track: number, next: number, end: number }
    raw.push(play.track * 256 + play.next)
    play.next++
    if (play.next < play.end) continue
    if (started < p.plays) {
      active[slot] = startPlay()
    } else {
      active[slot] = active[active.length - 1] as { track: number, next: number, end: number }
      active.pop()
    }
  }

  const trace = compactTrace(
    'chunks',
    `synthetic Spotify-like chunk workload: ${p.tracks} tracks, ${p.plays} plays, ${p.listeners} concurrent listeners, seed ${p.seed}`,
    raw,
    (id) => `t${id >>> 8}/${id & 255}`,
    () => p.chunkBytes
  )
  return {
    ...trace,
    params: { ...p, zipfExponent: exponent },
    shape: {
      topPlayShare: toTop / started,
      endedEarlyShare: endedEarly / started,
      meanChunksPerPlay: chunksPlayed / started
    }
  }
}
