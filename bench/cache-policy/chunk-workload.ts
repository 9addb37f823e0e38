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
 * - Keys are the edge's: chunks are `/v1/chunks/t{n}/v1/160/{index}`.
 * - `objectSizes: 'mixed'` adds the objects of other sizes a CDN serves with
 *   them: each play first fetches the track's manifest
 *   (`/v1/tracks/t{n}/versions/v1/manifest`, 1 KiB plus 66 bytes of hash a
 *   chunk, so 10-17 KiB), and, for the half of the tracks that are AAC, an
 *   init segment (`/v1/tracks/t{n}/versions/v1/init/160`, 600-1200 bytes;
 *   Chorus carries it inside the manifest, HLS and DASH CDNs serve it
 *   apart); and the last chunk of a track is short (1 KiB up to a full
 *   chunk). `uniform` (the default) keeps every object at chunkBytes, which
 *   keeps OPT exact.
 */
import { seeded } from '../../protocol/index.js'
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
  /** 'uniform' (every object chunkBytes) or 'mixed' (manifests, init segments, short last chunks). */
  objectSizes?: 'uniform' | 'mixed'
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
  earlySkipChunks: 19,
  objectSizes: 'uniform',
}

/** Raw ids: chunks are track * 256 + index; a track's manifest and init segment are negative. */
const manifestId = (track: number): number => -2 * track - 1
const initId = (track: number): number => -2 * track - 2

/** Exponent s of a Zipf law over n ranks that gives the top fraction that share. */
export function zipfExponentFor(n: number, topFraction: number, share: number): number {
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

export function createChunkWorkload(options: ChunkWorkloadOptions = {}): ChunkWorkload {
  const p = { ...DEFAULTS, ...options }
  if (p.maxChunks > 255 || p.minChunks < 1 || p.minChunks > p.maxChunks) {
    throw new RangeError('need 1 <= minChunks <= maxChunks <= 255')
  }
  if (p.objectSizes !== 'uniform' && p.objectSizes !== 'mixed') throw new RangeError('objectSizes must be uniform or mixed')
  const mixed = p.objectSizes === 'mixed'
  const rand = seeded(p.seed)
  const lengths = new Int32Array(p.tracks)
  for (let t = 0; t < p.tracks; t++) lengths[t] = p.minChunks + Math.floor(rand() * (p.maxChunks - p.minChunks + 1))
  // Drawn from their own generator so that 'mixed' plays the same plays as 'uniform'.
  const sizeRand = seeded(p.seed ^ 0x5eed)
  const lastBytes = new Int32Array(p.tracks)
  const initBytes = new Int32Array(p.tracks)
  for (let t = 0; t < p.tracks; t++) {
    const blocks = Math.max(1, Math.floor(p.chunkBytes / 16))
    lastBytes[t] = Math.max(16, Math.min(p.chunkBytes, 1024 + 16 * Math.floor(sizeRand() * blocks)))
    initBytes[t] = sizeRand() < 0.5 ? 600 + Math.floor(sizeRand() * 601) : 0
  }

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
  const raw: number[] = []
  let started = 0
  let toTop = 0
  let endedEarly = 0
  let chunksPlayed = 0
  const startPlay = (): { track: number; next: number; end: number } => {
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
    if (mixed) {
      raw.push(manifestId(track))
      if ((initBytes[track] as number) > 0) raw.push(initId(track))
    }
    return { track, next: 0, end }
  }

  const active: Array<{ track: number; next: number; end: number }> = []
  for (let i = 0; i < Math.min(p.listeners, p.plays); i++) active.push(startPlay())
  while (active.length > 0) {
    const slot = Math.floor(rand() * active.length)
    const play = active[slot] as { track: number; next: number; end: number }
    raw.push(play.track * 256 + play.next)
    play.next++
    if (play.next < play.end) continue
    if (started < p.plays) {
      active[slot] = startPlay()
    } else {
      active[slot] = active[active.length - 1] as { track: number; next: number; end: number }
      active.pop()
    }
  }

  const nameOf = (id: number): string => {
    if (id >= 0) return `/v1/chunks/t${id >>> 8}/v1/160/${id & 255}`
    const track = Math.floor((-id - 1) / 2)
    return id === manifestId(track) ? `/v1/tracks/t${track}/versions/v1/manifest` : `/v1/tracks/t${track}/versions/v1/init/160`
  }
  const sizeOf = (id: number): number => {
    if (!mixed) return p.chunkBytes
    if (id >= 0) return (id & 255) === (lengths[id >>> 8] as number) - 1 ? (lastBytes[id >>> 8] as number) : p.chunkBytes
    const track = Math.floor((-id - 1) / 2)
    return id === manifestId(track) ? 1024 + 66 * (lengths[track] as number) : (initBytes[track] as number)
  }
  const trace = compactTrace(
    mixed ? 'chunks-mixed' : 'chunks',
    `synthetic Spotify-like chunk workload: ${p.tracks} tracks, ${p.plays} plays, ${p.listeners} concurrent listeners, seed ${p.seed}` +
      (mixed ? '; with manifests, init segments and short last chunks' : ''),
    raw,
    nameOf,
    sizeOf,
  )
  return {
    ...trace,
    params: { ...p, zipfExponent: exponent },
    shape: {
      topPlayShare: toTop / started,
      endedEarlyShare: endedEarly / started,
      meanChunksPerPlay: chunksPlayed / started,
    },
  }
}
