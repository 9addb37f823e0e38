import { type Manifest, type ManifestVerifier, ProtocolError, manifestPath, utf8, verifySignedManifest } from '../../protocol/index.js'
import { type Coalescer, createCoalescer } from './coalescer.js'
import { IMMUTABLE } from './http.js'
import { type MemoryCache, createMemoryCache } from './memory-cache.js'
import { type NegativeCache, NegativeHit } from './negative-cache.js'
import { type OriginClient, isOriginFailure } from './origin-client.js'
import type { EdgeStats } from './stats.js'
import type { RequestContext, CacheLike, CacheStatus, Timings } from './types.js'

/** A verified manifest as the tiers hold it. */
export interface ManifestEntry {
  manifest: Manifest
  /** The signed document exactly as the origin sent it: players verify the same bytes. */
  body: string
  etag: string
  /** When the edge took it from the origin (ms since the epoch); the TTL counts from here. */
  fetchedAt: number
}

export interface ManifestResult {
  entry: ManifestEntry
  status: CacheStatus
  timings: Timings
  /** True for the waiters of a fetch another request started. */
  joined: boolean
}

export interface ManifestTierOptions {
  origin: OriginClient
  verifier: ManifestVerifier
  cache: CacheLike
  negative: NegativeCache
  stats: EdgeStats
  now: () => number
  manifestTtlSec: number
  staleWindowSec: number
  /** Bytes of verified manifests kept in memory (they are small: a few KiB each). */
  memoryBytes?: number
  /** Told of every version first verified here, so purge can find what it must delete. */
  onVersion?: (trackId: string, version: string, ctx: RequestContext) => void
}

const FETCHED_AT = 'x-chorus-fetched-at'

/**
 * Manifests in two flavours. A pinned version (`/versions/:v/manifest`) never changes, so it is
 * kept like a chunk. A track's current manifest changes on re-ingest: it is fresh for
 * MANIFEST_TTL_SEC, then re-fetched; when the origin fails, the last good copy is served for
 * STALE_WINDOW_SEC more, marked STALE. Every copy is verified against the origin's key before
 * it enters a tier, including copies read back from the Cache API, which other Workers on the
 * zone can write to.
 */
export function createManifestTier(options: ManifestTierOptions) {
  const { origin, verifier, cache, negative, stats, now } = options
  const ttlMs = options.manifestTtlSec * 1000
  const staleMs = options.staleWindowSec * 1000
  const budget = options.memoryBytes ?? 16 * 1024 * 1024
  // LRU: manifests are few and small; the chunk tier is where the policy matters.
  const pinnedMemory: MemoryCache<ManifestEntry> = createMemoryCache({ maxBytes: budget, policy: 'lru' })
  const currentMemory: MemoryCache<ManifestEntry> = createMemoryCache({ maxBytes: budget, policy: 'lru' })
  const inflight: Coalescer<ManifestResult> = createCoalescer()
  const cacheKey = (ctx: RequestContext, trackId: string, version?: string) => `${ctx.cacheBase}${manifestPath(trackId, version)}`

  async function verify(body: string, trackId: string, version: string | undefined): Promise<Manifest> {
    try {
      let doc: unknown
      try {
        doc = JSON.parse(body)
      } catch {
        throw new ProtocolError('invalid_manifest', 'the manifest is not JSON')
      }
      const manifest = await verifySignedManifest(doc, verifier)
      if (manifest.trackId !== trackId || (version !== undefined && manifest.version !== version)) {
        throw new ProtocolError('invalid_manifest', `a signed manifest for ${manifest.trackId}/${manifest.version} came back for ${trackId}/${version ?? 'current'}`)
      }
      return manifest
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw err
      stats.integrityFailure('manifest')
      throw new ProtocolError('integrity_failure', `manifest of '${trackId}' failed verification against the origin's key: ${err.message}`, { cause: err })
    }
  }

  function toCached(entry: ManifestEntry, pinned: boolean): Response {
    const cacheControl = pinned ? IMMUTABLE : `public, max-age=${Math.max(1, options.manifestTtlSec + options.staleWindowSec)}`
    return new Response(entry.body, { headers: { 'content-type': 'application/json', etag: entry.etag, 'cache-control': cacheControl, [FETCHED_AT]: String(entry.fetchedAt) } })
  }

  async function fromCache(key: string, trackId: string, version: string | undefined): Promise<ManifestEntry | undefined> {
    const res = await cache.match(key)
    if (!res) return undefined
    const body = await res.text()
    try {
      const manifest = await verify(body, trackId, version)
      return { manifest, body, etag: res.headers.get('etag') ?? `"${manifest.version}"`, fetchedAt: Number(res.headers.get(FETCHED_AT)) || 0 }
    } catch {
      // A copy that fails verification is dropped, and the origin asked as if it were never there.
      await cache.delete(key)
      return undefined
    }
  }

  function remember(entry: ManifestEntry, pinned: boolean, ctx: RequestContext): void {
    const { trackId, version } = entry.manifest
    const size = entry.body.length + 256
    if (pinned || !pinnedMemory.has(`${trackId}/${version}`)) {
      pinnedMemory.set(`${trackId}/${version}`, entry, size)
      ctx.waitUntil(cache.put(cacheKey(ctx, trackId, version), toCached(entry, true)).catch(() => {}))
      options.onVersion?.(trackId, version, ctx)
    }
    if (!pinned) {
      currentMemory.set(trackId, entry, size)
      ctx.waitUntil(cache.put(cacheKey(ctx, trackId), toCached(entry, false)).catch(() => {}))
    }
  }

  async function fromOrigin(trackId: string, version: string | undefined, timings: Timings): Promise<ManifestEntry> {
    const path = manifestPath(trackId, version)
    const answer = await origin.request(path)
    timings.push({ name: 'origin', ms: answer.ms })
    if (answer.status === 404) {
      negative.add(path)
      const code = version === undefined ? 'track_not_found' : 'version_not_found'
      throw new ProtocolError(code, version === undefined ? `no track '${trackId}'` : `no version '${version}' of track '${trackId}'`)
    }
    if (answer.status !== 200) throw new ProtocolError('origin_unavailable', `the origin answered ${answer.status} for ${path}`)
    const body = utf8.decode(answer.body)
    const started = now()
    const manifest = await verify(body, trackId, version)
    timings.push({ name: 'verify', ms: now() - started })
    return { manifest, body, etag: answer.headers.get('etag') ?? `"${manifest.version}"`, fetchedAt: now() }
  }

  function notFoundIfNegative(trackId: string, version: string | undefined): void {
    if (!negative.has(manifestPath(trackId, version))) return
    stats.negativeHit()
    throw new NegativeHit(version === undefined ? 'track_not_found' : 'version_not_found', version === undefined ? `no track '${trackId}'` : `no version '${version}' of track '${trackId}'`)
  }

  return {
    /** A pinned version, for chunk verification and `/versions/:v/manifest`. */
    async pinned(trackId: string, version: string, ctx: RequestContext): Promise<ManifestResult> {
      const started = now()
      const hit = pinnedMemory.get(`${trackId}/${version}`)
      if (hit) return { entry: hit, status: 'HIT-MEMORY', timings: [{ name: 'memory', ms: now() - started }], joined: false }
      notFoundIfNegative(trackId, version)
      const { promise, joined } = inflight.run(`${trackId}/${version}`, async () => {
        const timings: Timings = []
        const t0 = now()
        const cached = await fromCache(cacheKey(ctx, trackId, version), trackId, version)
        timings.push({ name: 'cache', ms: now() - t0 })
        if (cached) {
          pinnedMemory.set(`${trackId}/${version}`, cached, cached.body.length + 256)
          return { entry: cached, status: 'HIT-CACHE', timings, joined: false }
        }
        const entry = await fromOrigin(trackId, version, timings)
        remember(entry, true, ctx)
        return { entry, status: 'MISS', timings, joined: false }
      })
      if (joined) stats.coalescedWait()
      return { ...(await promise), joined }
    },

    /** A track's current manifest: fresh within the TTL, stale within the window when the origin fails. */
    async current(trackId: string, ctx: RequestContext): Promise<ManifestResult> {
      const started = now()
      const inMemory = currentMemory.get(trackId)
      if (inMemory && now() - inMemory.fetchedAt < ttlMs) {
        return { entry: inMemory, status: 'HIT-MEMORY', timings: [{ name: 'memory', ms: now() - started }], joined: false }
      }
      notFoundIfNegative(trackId, undefined)
      const { promise, joined } = inflight.run(trackId, async () => {
        const timings: Timings = []
        const t0 = now()
        // Another isolate may have refreshed it since this one last looked.
        const cached = await fromCache(cacheKey(ctx, trackId), trackId, undefined)
        timings.push({ name: 'cache', ms: now() - t0 })
        if (cached && now() - cached.fetchedAt < ttlMs) {
          currentMemory.set(trackId, cached, cached.body.length + 256)
          return { entry: cached, status: 'HIT-CACHE', timings, joined: false }
        }
        const last = [inMemory, cached].filter((e): e is ManifestEntry => e !== undefined).sort((a, b) => b.fetchedAt - a.fetchedAt)[0]
        try {
          const entry = await fromOrigin(trackId, undefined, timings)
          remember(entry, false, ctx)
          return { entry, status: 'MISS', timings, joined: false }
        } catch (err) {
          if (isOriginFailure(err) && last && now() - last.fetchedAt <= ttlMs + staleMs) {
            return { entry: last, status: 'STALE', timings, joined: false }
          }
          if (err instanceof ProtocolError && err.code === 'track_not_found') {
            currentMemory.delete(trackId)
            ctx.waitUntil(cache.delete(cacheKey(ctx, trackId)).catch(() => false))
          }
          throw err
        }
      })
      if (joined) stats.coalescedWait()
      return { ...(await promise), joined }
    },

    /**
     * What purge needs to enumerate a version's chunk keys: the manifest from memory, the Cache
     * API or, failing both, the origin (not stored). Undefined when none can give it.
     */
    async forPurge(trackId: string, version: string, ctx: RequestContext): Promise<Manifest | undefined> {
      const held = pinnedMemory.peek(`${trackId}/${version}`) ?? (await fromCache(cacheKey(ctx, trackId, version), trackId, version))
      if (held) return held.manifest
      try {
        return (await fromOrigin(trackId, version, [])).manifest
      } catch {
        return undefined
      }
    },

    /** The version of the current manifest this edge holds (memory or Cache API), if any. */
    async heldCurrentVersion(trackId: string, ctx: RequestContext): Promise<string | undefined> {
      return (currentMemory.peek(trackId) ?? (await fromCache(cacheKey(ctx, trackId), trackId, undefined)))?.manifest.version
    },

    /** Drops a track's manifests from both tiers; returns how many entries went. */
    async purge(trackId: string, versions: readonly string[], ctx: RequestContext): Promise<{ memory: number; cache: number }> {
      const memory = pinnedMemory.deleteWhere(`${trackId}/`) + (currentMemory.delete(trackId) ? 1 : 0)
      const keys = [cacheKey(ctx, trackId), ...versions.map((v) => cacheKey(ctx, trackId, v))]
      const deleted = await Promise.all(keys.map((k) => cache.delete(k).catch(() => false)))
      negative.deleteWhere(`/v1/tracks/${trackId}/`)
      return { memory, cache: deleted.filter(Boolean).length }
    },

  }
}

export type ManifestTier = ReturnType<typeof createManifestTier>
