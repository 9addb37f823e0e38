import { type ChunkAddress, type Manifest, ProtocolError, chunkPath, findQuality, sha256Hex } from '../../protocol/index.js'
import { type Forwarded, markForwarded, withUpstream } from './cache-status.js'
import type { StoredChunk } from './chunk-response.js'
import { type Coalescer, createCoalescer } from './coalescer.js'
import { IMMUTABLE } from './http.js'
import type { ManifestTier } from './manifest-tier.js'
import type { MemoryCache } from './memory-cache.js'
import type { OriginClient } from './origin-client.js'
import type { EdgeStats } from './stats.js'
import type { RequestContext, CacheLike, CacheStatus, Timings } from './types.js'

interface ChunkResult {
  chunk: StoredChunk
  status: Exclude<CacheStatus, 'STALE' | 'PASS'>
  timings: Timings
  /** True for the waiters of a load another request started. */
  joined: boolean
  /** The manifest, when this answer needed it (origin fetches): read-ahead reuses it. */
  manifest?: Manifest
  /** For a MISS: what the trip upstream gave, for Cache-Status. */
  forwarded?: Forwarded
}

/** What a request's own answer needs to know about how it was served, besides the shared result. */
interface ChunkTrace {
  /** True when the request waited on a load another request started. */
  collapsed?: boolean
}

export interface ChunkTierOptions {
  origin: OriginClient
  manifests: ManifestTier
  cache: CacheLike
  /** Undefined when MEMORY_CACHE_MB is 0. */
  memory: MemoryCache<StoredChunk> | undefined
  stats: EdgeStats
  now: () => number
  readAhead: number
  /** Scheme and host of every Cache API key (CACHE_HOST): keys depend on the path alone. */
  cacheBase: string
}

/** What a chunk costs the memory tier besides its bytes: the key, the entry, the policy's node. */
const ENTRY_OVERHEAD = 160
/** Cache API deletes run this many at a time when a purge walks a version's chunks. */
const DELETE_CONCURRENCY = 16

/**
 * Chunks: memory, then the Cache API, then the origin. A miss is loaded once per isolate
 * however many requests want it (they wait on one promise), and a chunk from the origin enters
 * a tier only once its SHA-256 matches the signed manifest. Chunk URLs are immutable, so a
 * stored chunk never expires; purge is the only way out besides eviction.
 */
/** Chunks at the edge: memory, then the Cache API, then the origin (loads coalesced, each checked against the signed manifest before it is kept). */
export interface ChunkTier {
  /** One chunk, from the nearest tier that holds it; throws a ProtocolError (e.g. `chunk_not_found`, `origin_unavailable`, `integrity_failure`) when none can give a good one. */
  get(a: ChunkAddress, ctx: RequestContext, trace?: ChunkTrace): Promise<ChunkResult>
  /**
   * A chunk that came from upstream inside a track's head: checked against `manifest` (the
   * verified manifest it came with), then kept in both tiers as if fetched alone; an
   * `integrity_failure` when it does not match.
   */
  adopt(a: ChunkAddress, bytes: Uint8Array<ArrayBuffer>, manifest: Manifest, ctx: RequestContext): Promise<StoredChunk>
  /** Warms the READ_AHEAD chunks after `a` in the background; each joins any load in flight. */
  readAhead(a: ChunkAddress, manifest: Manifest | undefined, ctx: RequestContext): void
  /** Drops one chunk from both tiers; returns how many entries went. */
  purgeChunk(a: ChunkAddress): Promise<{ memory: number; cache: number }>
  /** Drops every chunk of a track from memory, and from the Cache API those of the given manifests. */
  purgeTrack(trackId: string, versions: readonly Manifest[]): Promise<{ memory: number; cache: number }>
}

export function createChunkTier(options: ChunkTierOptions): ChunkTier {
  const { origin, manifests, cache, memory, stats, now, cacheBase } = options
  const inflight: Coalescer<ChunkResult> = createCoalescer()

  function toCached(chunk: StoredChunk, a: ChunkAddress): Response {
    return new Response(chunk.bytes, {
      headers: {
        etag: chunk.etag,
        'content-type': 'application/octet-stream',
        'cache-control': IMMUTABLE,
        // Cloudflare can purge by tag across every data center; the edge's own purge is per location.
        'cache-tag': `chorus-track-${a.trackId},chorus-version-${a.trackId}-${a.version}`,
      },
    })
  }

  /** The chunk's SHA-256 from the signed manifest of its version (pinned: one fetch per version per isolate). */
  async function expectedHash(a: ChunkAddress, ctx: RequestContext): Promise<{ manifest: Manifest; expected: string }> {
    const manifest = (await manifests.pinned(a.trackId, a.version, ctx)).entry.manifest
    const quality = findQuality(manifest, a.bitrate)
    if (!quality) throw new ProtocolError('chunk_not_found', `track '${a.trackId}' version '${a.version}' has no ${a.bitrate} kbit/s quality`)
    const expected = quality.hashes[a.index]
    if (expected === undefined) throw new ProtocolError('chunk_not_found', `no chunk ${a.index}: this quality has ${quality.chunkCount}`)
    return { manifest, expected }
  }

  async function load(a: ChunkAddress, path: string, ctx: RequestContext, timings: Timings, readAhead: boolean): Promise<ChunkResult> {
    let t0 = now()
    const key = `${cacheBase}${path}`
    // The manifest is wanted either way: a chunk read back from the Cache API is checked too,
    // since what a cache returns is only as good as what it stores (and who else writes there).
    let cacheMs = 0
    let manifestMs = 0
    const [bytes, pinned] = await Promise.all([
      cache.match(key).then(async (r) => {
        const body = r && new Uint8Array(await r.arrayBuffer())
        cacheMs = now() - t0
        return body
      }),
      expectedHash(a, ctx).then((value) => {
        manifestMs = now() - t0
        return value
      }),
    ])
    timings.push({ name: 'cache', ms: cacheMs }, { name: 'manifest', ms: manifestMs })
    const { manifest, expected } = pinned
    if (bytes) {
      t0 = now()
      const intact = (await sha256Hex(bytes)) === expected
      timings.push({ name: 'verify', ms: now() - t0 })
      if (intact) {
        const chunk = { bytes, etag: `"${expected}"` }
        memory?.set(path, chunk, chunk.bytes.byteLength + ENTRY_OVERHEAD, { readAhead })
        return { chunk, status: 'HIT-CACHE', timings, joined: false }
      }
      // Rotten or planted: out of the cache, and fetched again as on a miss.
      stats.integrityFailure('cachedChunk')
      await cache.delete(key).catch(() => false)
    }

    const answer = await origin.request(path)
    timings.push({ name: 'origin', ms: answer.ms })
    const forwarded: Forwarded = { fwd: 'uri-miss', status: answer.status, stored: false, ...withUpstream(answer.headers) }
    if (answer.status !== 200) throw markForwarded(new ProtocolError('origin_unavailable', `the origin answered ${answer.status} for a chunk its manifest lists`), forwarded)
    t0 = now()
    const actual = await sha256Hex(answer.body)
    timings.push({ name: 'verify', ms: now() - t0 })
    if (actual !== expected) {
      stats.integrityFailure('chunk')
      throw markForwarded(
        new ProtocolError('integrity_failure', `chunk ${path} from the origin does not match its signed manifest (sha256 ${actual.slice(0, 16)}..., expected ${expected.slice(0, 16)}...); not cached`),
        forwarded,
      )
    }
    const chunk = { bytes: answer.body, etag: `"${expected}"` }
    memory?.set(path, chunk, chunk.bytes.byteLength + ENTRY_OVERHEAD, { readAhead })
    ctx.waitUntil(cache.put(key, toCached(chunk, a)).catch(() => {}))
    return { chunk, status: 'MISS', timings, joined: false, manifest, forwarded: { ...forwarded, stored: true } }
  }

  /** One load per path at a time; `readAhead` marks a load no request asked for yet (the policy holds it more cheaply). */
  function loadShared(a: ChunkAddress, path: string, ctx: RequestContext, timings: Timings, readAhead = false) {
    return inflight.run(path, () => load(a, path, ctx, timings, readAhead))
  }

  return {
    async get(a: ChunkAddress, ctx: RequestContext, trace: ChunkTrace = {}): Promise<ChunkResult> {
      const path = chunkPath(a)
      const t0 = now()
      const hit = memory?.get(path)
      const timings: Timings = [{ name: 'memory', ms: now() - t0 }]
      if (hit) return { chunk: hit, status: 'HIT-MEMORY', timings, joined: false }
      const { promise, joined } = loadShared(a, path, ctx, timings)
      trace.collapsed = joined
      if (!joined) return promise
      stats.coalescedWait()
      const waited = now()
      const result = await promise
      return { ...result, timings: [...timings, { name: 'wait', ms: now() - waited }], joined: true }
    },

    async adopt(a: ChunkAddress, bytes: Uint8Array<ArrayBuffer>, manifest: Manifest, ctx: RequestContext): Promise<StoredChunk> {
      const expected = findQuality(manifest, a.bitrate)?.hashes[a.index]
      if (expected === undefined || (await sha256Hex(bytes)) !== expected) {
        stats.integrityFailure('chunk')
        throw new ProtocolError('integrity_failure', `chunk ${chunkPath(a)} of a head from upstream does not match its signed manifest; not cached`)
      }
      const path = chunkPath(a)
      const chunk = { bytes, etag: `"${expected}"` }
      memory?.set(path, chunk, bytes.byteLength + ENTRY_OVERHEAD)
      ctx.waitUntil(cache.put(`${cacheBase}${path}`, toCached(chunk, a)).catch(() => {}))
      return chunk
    },

    readAhead(a: ChunkAddress, manifest: Manifest | undefined, ctx: RequestContext): void {
      if (options.readAhead <= 0) return
      const work = async () => {
        const m = manifest ?? (await manifests.pinned(a.trackId, a.version, ctx)).entry.manifest
        const quality = findQuality(m, a.bitrate)
        if (!quality) return
        const last = Math.min(quality.chunkCount - 1, a.index + options.readAhead)
        const loads: Array<Promise<void>> = []
        for (let index = a.index + 1; index <= last; index++) {
          const next = { ...a, index }
          const path = chunkPath(next)
          if (memory?.has(path) || inflight.has(path)) continue
          stats.readAhead('started')
          loads.push(
            loadShared(next, path, ctx, [], true).promise.then(
              (r) => stats.readAhead(r.status === 'MISS' ? 'fromOrigin' : 'fromCache'),
              () => stats.readAhead('failed'),
            ),
          )
        }
        await Promise.all(loads)
      }
      ctx.waitUntil(work().catch(() => stats.readAhead('failed')))
    },

    async purgeChunk(a: ChunkAddress): Promise<{ memory: number; cache: number }> {
      const path = chunkPath(a)
      const inMemory = memory?.delete(path) ?? false
      const inCache = await cache.delete(`${cacheBase}${path}`).catch(() => false)
      return { memory: inMemory ? 1 : 0, cache: inCache ? 1 : 0 }
    },

    async purgeTrack(trackId: string, versions: readonly Manifest[]): Promise<{ memory: number; cache: number }> {
      const inMemory = memory?.deleteWhere(`/v1/chunks/${trackId}/`) ?? 0
      const keys: string[] = []
      for (const m of versions) {
        for (const q of m.qualities) {
          for (let index = 0; index < q.chunkCount; index++) keys.push(`${cacheBase}${chunkPath({ trackId, version: m.version, bitrate: q.bitrate, index })}`)
        }
      }
      let deleted = 0
      for (let i = 0; i < keys.length; i += DELETE_CONCURRENCY) {
        const batch = await Promise.all(keys.slice(i, i + DELETE_CONCURRENCY).map((k) => cache.delete(k).catch(() => false)))
        deleted += batch.filter(Boolean).length
      }
      return { memory: inMemory, cache: deleted }
    },
  }
}
