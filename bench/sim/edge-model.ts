import type { SimCatalog } from './catalog.js'
import type { EventQueue } from './event-queue.js'
import type { EdgePurpose, Metrics } from './metrics.js'

/**
 * The edge as the simulation sees it: a cache that holds every chunk it has fetched once (its
 * Cache API tier is far larger than a catalog's hot set), fetches a missed chunk from the origin
 * (one origin round trip, shared by every request that arrives meanwhile, as the edge coalesces
 * misses) and warms the next READ_AHEAD chunks with it; manifests are fresh for MANIFEST_TTL_SEC;
 * sessions and keys always go through to the origin. Answers reach a listener after its round
 * trip and its downlink (answers queue behind each other).
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
}

const MANIFEST_BYTES = 6_000
const SMALL_ANSWER_BYTES = 400

export function createEdgeModel(options: EdgeModelOptions) {
  const { q, catalog, metrics } = options
  const readAhead = options.readAhead ?? 2
  const manifestTtlMs = options.manifestTtlMs ?? 10_000
  /** Per track, when each chunk is (or will be) in the edge's cache; 0: never fetched, -1: long since. Listeners' histories were served by this edge, so their tracks start in it. */
  const ready = new Map<number, Float32Array>()
  const manifestFetched = new Map<number, number>()
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

  function deliver(l: EdgeListener, leavesEdgeAt: number, bytes: number, purpose: EdgePurpose): number {
    const start = Math.max(leavesEdgeAt + l.rttMs / 2, l.downBusyUntil)
    l.downBusyUntil = start + (bytes / l.downBytesPerSec) * 1000
    metrics.edge(q.now, bytes, purpose)
    return l.downBusyUntil
  }

  return {
    counters,
    /** The edge has served this whole track before (someone's history): it is in its cache. */
    prewarm(track: number): void {
      const r = readyOf(track)
      if (r[0] === 0) r.fill(-1)
    },
    /** When chunk `index` of `track`, asked for now, is at the listener. */
    chunk(l: EdgeListener, track: number, index: number, purpose: EdgePurpose): number {
      counters.chunkRequests++
      const arrives = q.now + l.rttMs / 2
      const r = readyOf(track)
      let inCache = r[index]!
      if (inCache === 0) {
        counters.misses++
        inCache = fetchFromOrigin(track, index, arrives)
        for (let i = index + 1; i <= index + readAhead && i < r.length; i++) if (r[i] === 0) fetchFromOrigin(track, i, arrives)
      } else if (inCache > arrives) counters.coalesced++
      else counters.hits++
      return deliver(l, Math.max(arrives, inCache), catalog.chunkBytes(track, index), purpose)
    },
    /** When the current manifest of `track`, asked for now, is at the listener. */
    manifest(l: EdgeListener, track: number): number {
      const arrives = q.now + l.rttMs / 2
      const last = manifestFetched.get(track)
      let leaves = arrives
      if (last === undefined || arrives - last > manifestTtlMs) {
        manifestFetched.set(track, arrives)
        metrics.origin(arrives, MANIFEST_BYTES)
        leaves = arrives + options.originRttMs
      }
      return deliver(l, leaves, MANIFEST_BYTES, 'control')
    },
    /** A session token or a track key: the edge passes it through to the origin. */
    passThrough(l: EdgeListener, at: number = q.now): number {
      const arrives = at + l.rttMs / 2
      metrics.origin(arrives, SMALL_ANSWER_BYTES)
      const leaves = arrives + options.originRttMs
      const start = leaves + l.rttMs / 2
      metrics.edge(q.now, SMALL_ANSWER_BYTES, 'control')
      return start
    },
  }
}

export type EdgeModel = ReturnType<typeof createEdgeModel>
