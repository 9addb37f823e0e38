import { type Manifest, type ManifestVerifier, ProtocolError, manifestPath, utf8, verifySignedManifest } from '../../protocol/index.js'
import { type Forwarded, type ForwardReason, forwardedOf, markForwarded, withUpstream } from './cache-status.js'
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

interface ManifestResult {
  entry: ManifestEntry
  status: CacheStatus
  timings: Timings
  /** True for the waiters of a fetch another request started. */
  joined: boolean
  /** For MISS and STALE: what the trip upstream gave, for Cache-Status. */
  forwarded?: Forwarded
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
  /**
   * Seconds past the TTL the Cache API keeps a current manifest's copy (at least the stale
   * window, the default): the head route serves it while refreshing it for as long as it is held.
   */
  holdSec?: number
  /** Bytes of verified manifests kept in memory (they are small: a few KiB each). */
  memoryBytes?: number
  /** Told of every version first verified here, so purge can find what it must delete. */
  onVersion?: (trackId: string, version: string, ctx: RequestContext) => void
  /** Scheme and host of every Cache API key (CACHE_HOST): keys depend on the path alone. */
  cacheBase: string
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
/** Manifests at the edge: memory, then the Cache API, then the origin; every one verified before it is kept. */
export interface ManifestTier {
  /** A pinned version, for chunk verification and `/versions/:v/manifest`. */
  pinned(trackId: string, version: string, ctx: RequestContext, trace?: { collapsed?: boolean }): Promise<ManifestResult>
  /** A track's current manifest: fresh within the TTL, stale within the window when the origin fails. */
  current(trackId: string, ctx: RequestContext, trace?: { collapsed?: boolean }): Promise<ManifestResult>
  /**
   * What purge needs to enumerate a version's chunk keys: the manifest from memory, the Cache
   * API or, failing both, the origin (not stored). Undefined when none can give it.
   */
  forPurge(trackId: string, version: string): Promise<Manifest | undefined>
  /**
   * The current manifest this edge holds (memory, then the Cache API), whatever its age, without
   * asking upstream; undefined when it holds none. The head route decides what age it serves.
   */
  held(trackId: string): Promise<{ entry: ManifestEntry; status: 'HIT-MEMORY' | 'HIT-CACHE' } | undefined>
  /**
   * A current manifest that came from upstream inside a track's head: verified as one fetched
   * alone is, then kept in both tiers as if it had been (current and pinned).
   */
  adopt(trackId: string, body: string, etag: string, ctx: RequestContext): Promise<ManifestEntry>
  /** The version of the current manifest this edge holds (memory or Cache API), if any. */
  heldCurrentVersion(trackId: string): Promise<string | undefined>
  /** Drops a track's manifests from both tiers; returns how many entries went. */
  purge(trackId: string, versions: readonly string[]): Promise<{ memory: number; cache: number }>
}

export function createManifestTier(options: ManifestTierOptions): ManifestTier {
  const { origin, verifier, cache, negative, stats, now } = options
  const ttlMs = options.manifestTtlSec * 1000
  const staleMs = options.staleWindowSec * 1000
  const budget = options.memoryBytes ?? 16 * 1024 * 1024
  // LRU: manifests are few and small; the chunk tier is where the policy matters.
  const pinnedMemory: MemoryCache<ManifestEntry> = createMemoryCache({ maxBytes: budget, policy: 'lru' })
  const currentMemory: MemoryCache<ManifestEntry> = createMemoryCache({ maxBytes: budget, policy: 'lru' })
  const inflight: Coalescer<ManifestResult> = createCoalescer()
  const cacheKey = (trackId: string, version?: string) => `${options.cacheBase}${manifestPath(trackId, version)}`

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
    const cacheControl = pinned ? IMMUTABLE : `public, max-age=${Math.max(1, options.manifestTtlSec + Math.max(options.staleWindowSec, options.holdSec ?? 0))}`
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
      ctx.waitUntil(cache.put(cacheKey(trackId, version), toCached(entry, true)).catch(() => {}))
      options.onVersion?.(trackId, version, ctx)
    }
    if (!pinned) {
      currentMemory.set(trackId, entry, size)
      ctx.waitUntil(cache.put(cacheKey(trackId), toCached(entry, false)).catch(() => {}))
    }
  }

  /** `fwd`: 'stale' when an expired copy is held (Cache-Status tells a refresh from a cold miss). */
  async function fromOrigin(trackId: string, version: string | undefined, timings: Timings, fwd: ForwardReason = 'uri-miss'): Promise<{ entry: ManifestEntry; forwarded: Forwarded }> {
    const path = manifestPath(trackId, version)
    let answer: Awaited<ReturnType<typeof origin.request>>
    try {
      answer = await origin.request(path)
    } catch (err) {
      throw markForwarded(err, { fwd, stored: false })
    }
    timings.push({ name: 'origin', ms: answer.ms })
    const forwarded: Forwarded = { fwd, status: answer.status, stored: false, ...withUpstream(answer.headers) }
    if (answer.status === 404) {
      const stored = negative.add(path)
      const code = version === undefined ? 'track_not_found' : 'version_not_found'
      throw markForwarded(new ProtocolError(code, version === undefined ? `no track '${trackId}'` : `no version '${version}' of track '${trackId}'`), { ...forwarded, stored })
    }
    if (answer.status !== 200) throw markForwarded(new ProtocolError('origin_unavailable', `the origin answered ${answer.status} for ${path}`), forwarded)
    const body = utf8.decode(answer.body)
    const started = now()
    let manifest: Manifest
    try {
      manifest = await verify(body, trackId, version)
    } catch (err) {
      throw markForwarded(err, forwarded)
    }
    timings.push({ name: 'verify', ms: now() - started })
    return { entry: { manifest, body, etag: answer.headers.get('etag') ?? `"${manifest.version}"`, fetchedAt: now() }, forwarded: { ...forwarded, stored: true } }
  }

  function notFoundIfNegative(trackId: string, version: string | undefined): void {
    const path = manifestPath(trackId, version)
    if (!negative.has(path)) return
    stats.negativeHit()
    throw new NegativeHit(
      version === undefined ? 'track_not_found' : 'version_not_found',
      version === undefined ? `no track '${trackId}'` : `no version '${version}' of track '${trackId}'`,
      negative.remainingSec(path),
    )
  }

  return {
    async pinned(trackId: string, version: string, ctx: RequestContext, trace: { collapsed?: boolean } = {}): Promise<ManifestResult> {
      const started = now()
      const hit = pinnedMemory.get(`${trackId}/${version}`)
      if (hit) return { entry: hit, status: 'HIT-MEMORY', timings: [{ name: 'memory', ms: now() - started }], joined: false }
      notFoundIfNegative(trackId, version)
      const { promise, joined } = inflight.run(`${trackId}/${version}`, async () => {
        const timings: Timings = []
        const t0 = now()
        const cached = await fromCache(cacheKey(trackId, version), trackId, version)
        timings.push({ name: 'cache', ms: now() - t0 })
        if (cached) {
          pinnedMemory.set(`${trackId}/${version}`, cached, cached.body.length + 256)
          return { entry: cached, status: 'HIT-CACHE', timings, joined: false }
        }
        const { entry, forwarded } = await fromOrigin(trackId, version, timings)
        remember(entry, true, ctx)
        return { entry, status: 'MISS', timings, joined: false, forwarded }
      })
      // Set before the wait, so that a waiter's error answer says it was collapsed too.
      trace.collapsed = joined
      if (joined) stats.coalescedWait()
      return { ...(await promise), joined }
    },

    async current(trackId: string, ctx: RequestContext, trace: { collapsed?: boolean } = {}): Promise<ManifestResult> {
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
        const cached = await fromCache(cacheKey(trackId), trackId, undefined)
        timings.push({ name: 'cache', ms: now() - t0 })
        if (cached && now() - cached.fetchedAt < ttlMs) {
          currentMemory.set(trackId, cached, cached.body.length + 256)
          return { entry: cached, status: 'HIT-CACHE', timings, joined: false }
        }
        const last = [inMemory, cached].filter((e): e is ManifestEntry => e !== undefined).sort((a, b) => b.fetchedAt - a.fetchedAt)[0]
        try {
          const { entry, forwarded } = await fromOrigin(trackId, undefined, timings, last ? 'stale' : 'uri-miss')
          remember(entry, false, ctx)
          return { entry, status: 'MISS', timings, joined: false, forwarded }
        } catch (err) {
          if (isOriginFailure(err) && last && now() - last.fetchedAt <= ttlMs + staleMs) {
            return { entry: last, status: 'STALE', timings, joined: false, forwarded: forwardedOf(err) ?? { fwd: 'stale', stored: false } }
          }
          if (err instanceof ProtocolError && err.code === 'track_not_found') {
            currentMemory.delete(trackId)
            ctx.waitUntil(cache.delete(cacheKey(trackId)).catch(() => false))
          }
          throw err
        }
      })
      // Set before the wait, so that a waiter's error answer says it was collapsed too.
      trace.collapsed = joined
      if (joined) stats.coalescedWait()
      return { ...(await promise), joined }
    },

    async forPurge(trackId: string, version: string): Promise<Manifest | undefined> {
      const held = pinnedMemory.peek(`${trackId}/${version}`) ?? (await fromCache(cacheKey(trackId, version), trackId, version))
      if (held) return held.manifest
      try {
        return (await fromOrigin(trackId, version, [])).entry.manifest
      } catch {
        return undefined
      }
    },

    async held(trackId: string) {
      const inMemory = currentMemory.get(trackId)
      if (inMemory) return { entry: inMemory, status: 'HIT-MEMORY' as const }
      const cached = await fromCache(cacheKey(trackId), trackId, undefined)
      if (!cached) return undefined
      currentMemory.set(trackId, cached, cached.body.length + 256)
      return { entry: cached, status: 'HIT-CACHE' as const }
    },

    async adopt(trackId: string, body: string, etag: string, ctx: RequestContext): Promise<ManifestEntry> {
      const entry = { manifest: await verify(body, trackId, undefined), body, etag, fetchedAt: now() }
      remember(entry, false, ctx)
      return entry
    },

    async heldCurrentVersion(trackId: string): Promise<string | undefined> {
      return (currentMemory.peek(trackId) ?? (await fromCache(cacheKey(trackId), trackId, undefined)))?.manifest.version
    },

    async purge(trackId: string, versions: readonly string[]): Promise<{ memory: number; cache: number }> {
      const memory = pinnedMemory.deleteWhere(`${trackId}/`) + (currentMemory.delete(trackId) ? 1 : 0)
      const keys = [cacheKey(trackId), ...versions.map((v) => cacheKey(trackId, v))]
      const deleted = await Promise.all(keys.map((k) => cache.delete(k).catch(() => false)))
      negative.deleteWhere(`/v1/tracks/${trackId}/`)
      return { memory, cache: deleted.filter(Boolean).length }
    },
  }
}
