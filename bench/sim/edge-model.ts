import { CONFIG_VARS } from '../../edge/core.js'
import type { SimCatalog } from './catalog.js'
import type { EventQueue } from './event-queue.js'
import type { EdgePurpose, Metrics } from './metrics.js'

/**
 * The edge as the simulation sees it: a cache that holds every chunk it has fetched once (its
 * Cache API tier is far larger than a catalog's hot set), fetches a missed chunk from the origin
 * (one origin round trip, shared by every request that arrives meanwhile, as the edge coalesces
 * misses) and warms the next READ_AHEAD chunks with it; manifests are fresh for MANIFEST_TTL_SEC.
 * A head (the manifest and the first chunk in one answer) is made as edge/src/head-tier.ts makes
 * it: with the manifest fresh, its chunk from the chunk cache; past its TTL by less than the
 * revalidate window, served as it is while the manifest is refreshed behind; not held, the whole
 * head from the origin in one trip. A track in a listener's history was served by this edge: its
 * chunks and its manifest are held (the Cache API keeps the manifest for the window, a week by
 * default; the history is taken as that recent). Sessions and keys never pass the edge: the key service (the origin Worker) runs in the
 * edge's location, one listener round trip away. Answers reach a listener after its round trip
 * and its downlink (answers queue behind each other).
 */
export interface EdgeListener {
  rttMs: number
  downBytesPerSec: number
  /** When the listener's downlink is free again. */
  downBusyUntil: number
}

export interface EdgeModelOptions {
  q: EventQueue
  catalog: SimCatalog
  metrics: Metrics
  originRttMs: number
  readAhead?: number
  manifestTtlMs?: number
  /** How long past its TTL a head is served from the manifest held while that is refreshed (the edge's STALE_WHILE_REVALIDATE_SEC). */
  revalidateWindowMs?: number
}

/** The edge's own default (STALE_WHILE_REVALIDATE_SEC), in ms. */
const REVALIDATE_WINDOW_MS = Number(CONFIG_VARS.find((v) => v.name === 'STALE_WHILE_REVALIDATE_SEC')!.fallback) * 1000
const MANIFEST_BYTES = 6_000
const SMALL_ANSWER_BYTES = 400
/** Chunks in a head: the catalog is MP3, which plays from its first chunk (protocol's headChunkCount). */
export const HEAD_CHUNKS = 1

export function createEdgeModel(options: EdgeModelOptions) {
  const { q, catalog, metrics } = options
  const readAhead = options.readAhead ?? 2
  const manifestTtlMs = options.manifestTtlMs ?? 10_000
  const revalidateWindowMs = options.revalidateWindowMs ?? REVALIDATE_WINDOW_MS
  /** Per track, when each chunk is (or will be) in the edge's cache; 0: never fetched, -1: long since. Listeners' histories were served by this edge, so their tracks start in it. */
  const ready = new Map<number, Float32Array>()
  /** Per track, when the current manifest is (or will be) at the edge: its TTL counts from then. */
  const manifestAt = new Map<number, number>()
  const counters = { chunkRequests: 0, hits: 0, misses: 0, coalesced: 0 }

  const readyOf = (track: number) => {
    let r = ready.get(track)
    if (!r) {
      r = new Float32Array(catalog.chunks(track))
      ready.set(track, r)
    }
    return r
  }

  /** The origin fetch of one chunk, starting at `at`: the chunk is in the edge's cache one origin round trip later. */
  function fetchFromOrigin(track: number, index: number, at: number): number {
    const r = readyOf(track)
    const done = at + options.originRttMs
    r[index] = done
    metrics.origin(at, catalog.chunkBytes(track, index))
    return done
  }

  /** The manifest held at `at`: fresh, past its TTL by less than the revalidate window (a head serves it while it is refreshed), or not held. */
  function manifestHeld(track: number, at: number): 'fresh' | 'stale' | 'absent' {
    const got = manifestAt.get(track)
    if (got === undefined || at - got > manifestTtlMs + revalidateWindowMs) return 'absent'
    return at - got > manifestTtlMs ? 'stale' : 'fresh'
  }

  /** The current manifest from the origin (with `extraBytes` of chunks in the same answer), asked at `at`: at the edge one origin round trip later. */
  function manifestFromOrigin(track: number, at: number, extraBytes = 0): number {
    const done = at + options.originRttMs
    manifestAt.set(track, done)
    metrics.origin(at, MANIFEST_BYTES + extraBytes)
    return done
  }

  /** When chunk `index` is in the edge's cache for a request arriving at `arrives` (a miss goes to the origin, with read-ahead). */
  function chunkReady(track: number, index: number, arrives: number): number {
    counters.chunkRequests++
    const r = readyOf(track)
    const inCache = r[index]!
    if (inCache === 0) {
      counters.misses++
      readAfter(track, index, arrives)
      return fetchFromOrigin(track, index, arrives)
    }
    if (inCache > arrives) counters.coalesced++
    else counters.hits++
    return inCache
  }

  function readAfter(track: number, index: number, at: number): void {
    const r = readyOf(track)
    for (let i = index + 1; i <= index + readAhead && i < r.length; i++) if (r[i] === 0) fetchFromOrigin(track, i, at)
  }

  /** A session or a track key from the key service, asked at `at` (after the session's token, for a key on its own). */
  function keyService(l: EdgeListener, at: number = q.now): number {
    metrics.edge(q.now, SMALL_ANSWER_BYTES, 'control')
    return at + l.rttMs
  }

  function deliver(l: EdgeListener, leavesEdgeAt: number, bytes: number, purpose: EdgePurpose): number {
    const start = Math.max(leavesEdgeAt + l.rttMs / 2, l.downBusyUntil)
    l.downBusyUntil = start + (bytes / l.downBytesPerSec) * 1000
    metrics.edge(q.now, bytes, purpose)
    return l.downBusyUntil
  }

  return {
    counters,
    /** The edge has served this whole track before (someone's history): it is in its cache, and its manifest past its TTL. */
    prewarm(track: number): void {
      const r = readyOf(track)
      if (r[0] === 0) r.fill(-1)
      if (!manifestAt.has(track)) manifestAt.set(track, -manifestTtlMs - 1)
    },
    /** When chunk `index` of `track`, asked for now, is at the listener. */
    chunk(l: EdgeListener, track: number, index: number, purpose: EdgePurpose): number {
      const arrives = q.now + l.rttMs / 2
      return deliver(l, Math.max(arrives, chunkReady(track, index, arrives)), catalog.chunkBytes(track, index), purpose)
    },
    /** When the current manifest of `track`, asked for now, is at the listener. */
    manifest(l: EdgeListener, track: number): number {
      const arrives = q.now + l.rttMs / 2
      const fresh = manifestHeld(track, arrives) === 'fresh'
      return deliver(l, fresh ? Math.max(arrives, manifestAt.get(track)!) : manifestFromOrigin(track, arrives), MANIFEST_BYTES, 'control')
    },
    /** When the head of `track` (the manifest and chunks 0..HEAD_CHUNKS-1, one answer), asked for now, is at the listener. */
    head(l: EdgeListener, track: number): number {
      const arrives = q.now + l.rttMs / 2
      let chunkBytes = 0
      for (let i = 0; i < HEAD_CHUNKS; i++) chunkBytes += catalog.chunkBytes(track, i)
      let leaves = arrives
      const held = manifestHeld(track, arrives)
      if (held === 'absent') {
        // One trip upstream for the whole head; its chunks are kept as if fetched alone.
        counters.chunkRequests += HEAD_CHUNKS
        counters.misses += HEAD_CHUNKS
        leaves = manifestFromOrigin(track, arrives, chunkBytes)
        const r = readyOf(track)
        for (let i = 0; i < HEAD_CHUNKS; i++) r[i] = r[i] === 0 ? leaves : Math.min(r[i]!, leaves)
      } else {
        // A manifest on its way from the origin is waited for; a stale one is refreshed behind the answer.
        leaves = Math.max(arrives, manifestAt.get(track)!)
        if (held === 'stale') manifestFromOrigin(track, arrives)
        for (let i = 0; i < HEAD_CHUNKS; i++) leaves = Math.max(leaves, chunkReady(track, i, arrives))
      }
      readAfter(track, HEAD_CHUNKS - 1, leaves)
      return deliver(l, leaves, MANIFEST_BYTES + chunkBytes, 'head')
    },
    keyService,
  }
}

export type EdgeModel = ReturnType<typeof createEdgeModel>
