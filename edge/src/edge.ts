import {
  CHUNK_PREFIX,
  CORS_HEADERS,
  EDGE_ROUTES,
  HEAD_MIME,
  type ManifestVerifier,
  ProtocolError,
  answerError,
  assertTrackId,
  assertVersion,
  chunkPath,
  encodeHead,
  etagMatches,
  headPath,
  manifestPath,
  parseHeadKbps,
  parseChunkPath,
  unroutedError,
} from '../../protocol/index.js'
import { createAccess } from './access.js'
import { CACHE_NAME, type CacheStatusEntry, type Forwarded, IMMUTABLE_TTL_SEC, cacheStatusValue, forwardedEntry, forwardedOf } from './cache-status.js'
import { createCatalogTier } from './catalog-tier.js'
import { type StoredChunk, chunkAnswer } from './chunk-response.js'
import { createChunkTier } from './chunk-tier.js'
import type { EdgeConfig } from './config.js'
import { IMMUTABLE, jsonResponse, serverTiming, toResponse } from './http.js'
import { createHeadTier } from './head-tier.js'
import { createManifestTier } from './manifest-tier.js'
import { createMemoryCache } from './memory-cache.js'
import { NegativeHit, createNegativeCache } from './negative-cache.js'
import { createOriginClient } from './origin-client.js'
import { purgeRequest } from './purge-request.js'
import { type RequestKind, type Source, createEdgeStats, renderPrometheus } from './stats.js'
import type { RequestContext, CacheLike, CacheStatus, Timings } from './types.js'
import { createVersionIndex } from './version-index.js'

export interface EdgeOptions {
  config: EdgeConfig
  verifier: ManifestVerifier
  fetch: typeof fetch
  cache: CacheLike
  now?: () => number
  /** Told of failures that are bugs (not ProtocolErrors): they answer a bare 500 otherwise. */
  onBug?: (err: unknown) => void
}

const SOURCE: Record<CacheStatus, Source> = { 'HIT-MEMORY': 'memory', 'HIT-CACHE': 'cache', MISS: 'origin', STALE: 'stale' }

/**
 * What a request's Cache-Status needs that its answer does not carry: its normalised cache key,
 * and whether it waited on another request's trip upstream. Filled as the request goes, so an
 * error answer can say as much as a good one.
 */
interface Trace {
  key?: string
  collapsed?: boolean
}

/** Cache-Status of an answer the edge made itself, with no cache or upstream involved. */
const GENERATED = cacheStatusValue({ detail: 'generated' })

function tierHeaders(status: CacheStatus, timings: Timings, cacheStatus: string): Record<string, string> {
  return { 'x-cache': status, 'server-timing': serverTiming(timings), 'cache-status': cacheStatus }
}

/** Cache-Status of a good answer: a hit in one of the tiers, or what the trip upstream gave. */
function servedStatus(status: CacheStatus, forwarded: Forwarded | undefined, trace: Trace, ttl: number): string {
  const base = { ttl, ...(trace.key !== undefined && { key: trace.key }) }
  if (status === 'HIT-MEMORY') return cacheStatusValue({ hit: true, ...base, detail: 'memory' })
  if (status === 'HIT-CACHE') return cacheStatusValue({ hit: true, ...base, detail: 'cache-api' })
  const f = forwarded ?? { fwd: 'uri-miss', stored: true }
  const entry = forwardedEntry(f, { ...base, ...(trace.collapsed && { collapsed: true }), ...(status === 'STALE' && { detail: 'stale-served' }) })
  return cacheStatusValue(entry, f.upstream)
}

/** Cache-Status of an error answer: a remembered 404, a failed trip upstream, or the edge's own refusal. */
function errorStatus(err: unknown, trace: Trace): string {
  const detail = err instanceof ProtocolError ? err.code : 'internal'
  const key = trace.key !== undefined ? { key: trace.key } : {}
  if (err instanceof NegativeHit) return cacheStatusValue({ hit: true, ttl: err.ttlSec, ...key, detail })
  const f = forwardedOf(err)
  if (f) {
    const entry: CacheStatusEntry = forwardedEntry(f, { ...key, ...(trace.collapsed && { collapsed: true }), detail })
    return cacheStatusValue(entry, f.upstream)
  }
  return cacheStatusValue({ ...key, detail })
}

/**
 * The edge's one way from a thrown value to an answer (protocol's JSON error), with the
 * Cache-Status that says where the failure came from. Every handler's failures come here through
 * handle(); the Worker sends its configuration errors and bugs here too.
 */
export function edgeErrorResponse(err: unknown, trace: Trace = {}): Response {
  const headers = { ...(err instanceof NegativeHit && { 'x-cache': 'HIT-MEMORY' }), 'cache-status': errorStatus(err, trace) }
  return toResponse(answerError(err, { internalMessage: 'internal error at the edge', headers }))
}

/**
 * The edge as request handlers over injected runtime seams (fetch, the Cache API, background
 * work, the clock). worker.ts routes requests here; nothing in this file knows it runs in a
 * Worker. No handler throws: every failure becomes a JSON error answer and is counted.
 */
export interface Edge {
  readonly config: EdgeConfig
  /** GET/HEAD /v1/chunks/{track}/{version}/{bitrate}/{index}: memory, then the Cache API, then the origin; checked against the signed manifest before it is cached. */
  chunk(request: Request, path: string, ctx: RequestContext): Promise<Response>
  /** GET/HEAD a track's current manifest (version undefined) or a pinned version's. */
  manifest(request: Request, trackId: string, version: string | undefined, ctx: RequestContext): Promise<Response>
  /**
   * GET/HEAD /v1/tracks/:id/head[?kbps=N]: the current manifest and the chunks of the first audio
   * of one quality in one answer (protocol/src/head.ts), made of what the manifest and chunk tiers
   * hold (each verified as they always are), cached and revalidated as the current manifest is.
   */
  head(request: Request, trackId: string, kbps: string | undefined, ctx: RequestContext): Promise<Response>
  /** GET/HEAD /v1/tracks. */
  catalog(request: Request): Promise<Response>
  /**
   * POST /v1/session, /v1/keys and /v1/tracks/:id/key, any method: never served here. Sessions and keys
   * come from the key service (the origin) directly, so no caching edge ever holds a key or a
   * token that fetches one; the origin is not asked.
   */
  notAtEdge(request: Request, path: string): Promise<Response>
  /** POST /_chorus/purge {"track": id} | {"chunk": "/v1/chunks/..."}: both tiers, authenticated. */
  purge(request: Request, ctx: RequestContext): Promise<Response>
  /** GET /_chorus/stats: operators only when an operator token is configured. */
  stats(request: Request): Promise<Response>
  /** GET /_chorus/metrics: the same figures as Prometheus text, under the same rule. */
  metrics(request: Request): Promise<Response>
  /** Public and minimal: up or not. Where the origin is and how the edge is tuned are for operators (stats). */
  health(): Promise<Response>
  /** GET /v1/origin-key: the public key manifests and tokens are checked with. */
  originKey(): Promise<Response>
  /** A request no route took: a 405 naming the methods where the path is known (protocol's EDGE_ROUTES), a 404 elsewhere. */
  unrouted(request: Request, path: string): Promise<Response>
}

export function createEdge(options: EdgeOptions): Edge {
  const { config, verifier, cache } = options
  const now = options.now ?? Date.now
  const stats = createEdgeStats(now)
  // CDN-Loop (RFC 8586) names this edge to whatever it asks: a lower-tier edge refuses requests that
  // carry it, so UPSTREAM_EDGE pointing at itself or at another lower edge fails at once, not by timeout.
  const origin = createOriginClient({ baseUrl: config.originUrl, fetch: options.fetch, timeoutMs: config.originTimeoutMs, now, observe: stats.origin, headers: { 'cdn-loop': CACHE_NAME } })
  const negative = createNegativeCache({ ttlSec: config.negativeTtlSec, now })
  const { cacheBase } = config
  const versionIndex = createVersionIndex({ cache, cacheBase })
  const manifests = createManifestTier({
    cacheBase,
    origin,
    verifier,
    cache,
    negative,
    stats,
    now,
    manifestTtlSec: config.manifestTtlSec,
    staleWindowSec: config.staleWindowSec,
    // The head route serves the copy held for this long past the TTL: it must still be there.
    holdSec: Math.max(config.staleWindowSec, config.revalidateWindowSec),
    onVersion: versionIndex.record,
  })
  const memory = config.memoryCacheBytes > 0 ? createMemoryCache<StoredChunk>({ maxBytes: config.memoryCacheBytes, policy: config.memoryPolicy, admitAfter: config.admitAfter }) : undefined
  const chunks = createChunkTier({ origin, manifests, cache, memory, stats, now, readAhead: config.readAhead, cacheBase })
  const heads = createHeadTier({ origin, manifests, chunks, now, manifestTtlSec: config.manifestTtlSec, revalidateWindowSec: config.revalidateWindowSec })
  const catalog = createCatalogTier({ origin, now, ttlSec: config.manifestTtlSec, staleWindowSec: config.staleWindowSec })
  const access = createAccess({ verifier, operatorTokens: config.operatorTokens, now })

  /**
   * Counts the request, turns any failure into its JSON answer, counts errors, and makes sure
   * every answer says in Cache-Status how it was made.
   */
  async function handle(kind: RequestKind, work: (trace: Trace) => Promise<Response>): Promise<Response> {
    stats.request(kind)
    const trace: Trace = {}
    let response: Response
    try {
      response = await work(trace)
      if (!response.headers.has('cache-status')) response.headers.set('cache-status', GENERATED)
    } catch (err) {
      if (!(err instanceof ProtocolError)) options.onBug?.(err)
      response = edgeErrorResponse(err, trace)
    }
    if (response.status >= 400) stats.error(response.status)
    return response
  }

  /**
   * A request from another Chorus edge is fine at a shield (upstream: origin) and wrong at a lower
   * edge: only a loop, or a chain of lower edges (which this edge does not support), sends one.
   */
  function refuseLoop(request: Request): void {
    if (config.upstream !== 'edge') return
    const loop = request.headers.get('cdn-loop')
    if (loop?.split(',').some((member) => member.trim().split(';')[0]!.trim().toLowerCase() === CACHE_NAME)) {
      throw new ProtocolError(
        'forbidden',
        'a request from another Chorus edge reached a lower-tier edge: UPSTREAM_EDGE must name a shield (an edge with ORIGIN_URL and no UPSTREAM_EDGE), not itself or another lower edge',
      )
    }
  }

  return {
    config,

    chunk(request: Request, path: string, ctx: RequestContext): Promise<Response> {
      return handle('chunk', async (trace) => {
        refuseLoop(request)
        const address = parseChunkPath(path.slice(CHUNK_PREFIX.length))
        // The key is the canonical path: no hostname, no query string.
        trace.key = `${cacheBase}${chunkPath(address)}`
        if (config.requireToken) await access.requirePlay(request.headers.get('authorization'), address.trackId)
        const result = await chunks.get(address, ctx, trace)
        if (result.status !== 'HIT-MEMORY' && !result.joined) chunks.readAhead(address, result.manifest, ctx)
        const answer = chunkAnswer(
          result.chunk,
          { method: request.method, range: request.headers.get('range'), ifNoneMatch: request.headers.get('if-none-match') },
          tierHeaders(result.status, result.timings, servedStatus(result.status, result.forwarded, trace, IMMUTABLE_TTL_SEC)),
        )
        if (answer.response.status < 400) stats.served('chunk', SOURCE[result.status], answer.bytesSent)
        return answer.response
      })
    },

    manifest(request: Request, trackId: string, version: string | undefined, ctx: RequestContext): Promise<Response> {
      return handle('manifest', async (trace) => {
        refuseLoop(request)
        assertTrackId(trackId)
        if (version !== undefined) assertVersion(version)
        trace.key = `${cacheBase}${manifestPath(trackId, version)}`
        const result = version === undefined ? await manifests.current(trackId, ctx, trace) : await manifests.pinned(trackId, version, ctx, trace)
        const { entry, status } = result
        const ageSec = Math.max(0, Math.floor((now() - entry.fetchedAt) / 1000))
        // Freshness left, negative once stale (RFC 9211's way of saying so); pinned versions never change.
        const ttl = version === undefined ? config.manifestTtlSec - ageSec : IMMUTABLE_TTL_SEC
        const headers: Record<string, string> = {
          ...CORS_HEADERS,
          'content-type': 'application/json',
          etag: entry.etag,
          ...tierHeaders(status, result.timings, servedStatus(status, result.forwarded, trace, ttl)),
        }
        if (version !== undefined) headers['cache-control'] = IMMUTABLE
        else if (status === 'STALE') {
          headers['cache-control'] = 'no-cache'
          headers.age = String(ageSec)
          headers.warning = '110 - "Response is Stale"'
          headers['x-chorus-stale'] = `origin unavailable; fetched ${ageSec} s ago, past the ${config.manifestTtlSec} s TTL`
        } else {
          headers['cache-control'] = `public, max-age=${Math.max(0, config.manifestTtlSec - ageSec)}`
          headers.age = String(ageSec)
        }
        const source = SOURCE[status]
        if (etagMatches(request.headers.get('if-none-match'), entry.etag)) {
          stats.served('manifest', source, 0)
          return new Response(null, { status: 304, headers })
        }
        const head = request.method === 'HEAD'
        stats.served('manifest', source, head ? 0 : entry.body.length)
        return new Response(head ? null : entry.body, { status: 200, headers })
      })
    },

    head(request: Request, trackId: string, kbpsText: string | undefined, ctx: RequestContext): Promise<Response> {
      return handle('manifest', async (trace) => {
        refuseLoop(request)
        assertTrackId(trackId)
        const kbps = parseHeadKbps(kbpsText)
        trace.key = `${cacheBase}${headPath(trackId, kbps)}`
        // It carries chunks: the same rule as a chunk request.
        if (config.requireToken) await access.requirePlay(request.headers.get('authorization'), trackId)
        const result = await heads.get(trackId, kbps, ctx)
        const { entry, quality, status } = result
        const ageSec = Math.max(0, Math.floor((now() - entry.fetchedAt) / 1000))
        const etag = `"${entry.manifest.version}-${quality.bitrate}-${entry.etag.replace(/"/g, '').slice(-16)}"`
        const headers: Record<string, string> = {
          ...CORS_HEADERS,
          'content-type': HEAD_MIME,
          etag,
          // Served while its manifest is refreshed: no one else should keep it.
          'cache-control': result.revalidating ? 'no-cache' : `public, max-age=${Math.max(0, config.manifestTtlSec - ageSec)}`,
          age: String(ageSec),
          ...tierHeaders(status, result.timings, servedStatus(status, result.forwarded, trace, config.manifestTtlSec - ageSec)),
        }
        if (etagMatches(request.headers.get('if-none-match'), etag)) {
          stats.served('manifest', SOURCE[status], 0)
          return new Response(null, { status: 304, headers })
        }
        const body = encodeHead(
          entry.body,
          quality.bitrate,
          result.chunks.map((c) => c.bytes),
        )
        const head = request.method === 'HEAD'
        stats.served('manifest', SOURCE[status], head ? 0 : entry.body.length)
        stats.served('chunk', SOURCE[status], head ? 0 : body.byteLength - entry.body.length)
        return new Response(head ? null : body, { status: 200, headers })
      })
    },

    catalog(request: Request): Promise<Response> {
      return handle('catalog', async (trace) => {
        refuseLoop(request)
        trace.key = `${cacheBase}/v1/tracks`
        const result = await catalog.get(trace)
        const ageSec = Math.max(0, Math.floor((now() - result.fetchedAt) / 1000))
        const headers: Record<string, string> = {
          ...CORS_HEADERS,
          'content-type': 'application/json',
          'cache-control': result.status === 'STALE' ? 'no-cache' : `public, max-age=${Math.max(0, config.manifestTtlSec - ageSec)}`,
          age: String(ageSec),
          ...tierHeaders(result.status, result.timings, servedStatus(result.status, result.forwarded, trace, config.manifestTtlSec - ageSec)),
        }
        if (result.status === 'STALE') headers['x-chorus-stale'] = `origin unavailable; fetched ${ageSec} s ago`
        const head = request.method === 'HEAD'
        stats.served('catalog', SOURCE[result.status], head ? 0 : result.body.byteLength)
        return new Response(head ? null : result.body, { status: 200, headers })
      })
    },

    notAtEdge(request: Request, path: string): Promise<Response> {
      return handle('other', async () => {
        throw new ProtocolError('not_at_edge', `${request.method.slice(0, 20)} ${path.slice(0, 200)}: sessions and track keys come from the key service (the origin), never through a caching edge`)
      })
    },

    purge(request: Request, _ctx: RequestContext): Promise<Response> {
      return handle('admin', async () => {
        await access.requirePurge(request.headers.get('authorization'))
        const target = await purgeRequest(request)
        if (target.kind === 'chunk') {
          const counts = await chunks.purgeChunk(target.address)
          return jsonResponse(200, { purged: { chunk: target.path, ...counts } })
        }
        const { trackId } = target
        const versions = new Set(await versionIndex.versions(trackId))
        const current = await manifests.heldCurrentVersion(trackId)
        if (current !== undefined) versions.add(current)
        const held = []
        const unreadable: string[] = []
        for (const v of versions) {
          const m = await manifests.forPurge(trackId, v)
          if (m) held.push(m)
          else unreadable.push(v)
        }
        const fromChunks = await chunks.purgeTrack(trackId, held)
        const fromManifests = await manifests.purge(trackId, [...versions])
        if (unreadable.length === 0) await versionIndex.forget(trackId)
        catalog.purge()
        return jsonResponse(200, {
          purged: {
            track: trackId,
            versions: [...versions].sort(),
            memory: fromChunks.memory + fromManifests.memory,
            cache: fromChunks.cache + fromManifests.cache,
          },
          // Chunks of these versions may stay in the Cache API: their manifests could not be read to list them.
          ...(unreadable.length > 0 && { incomplete: { versions: unreadable, reason: 'manifest unavailable (origin down and not cached); retry when the origin is back' } }),
        })
      })
    },

    stats(request: Request): Promise<Response> {
      return handle('admin', async () => {
        access.requireOperator(request.headers.get('authorization'))
        return jsonResponse(200, { config: publicConfig(config), ...stats.snapshot(memory?.stats() ?? null) })
      })
    },

    metrics(request: Request): Promise<Response> {
      return handle('admin', async () => {
        access.requireOperator(request.headers.get('authorization'))
        return new Response(renderPrometheus(stats.snapshot(memory?.stats() ?? null)), { headers: { ...CORS_HEADERS, 'content-type': 'text/plain; version=0.0.4', 'cache-control': 'no-store' } })
      })
    },

    health(): Promise<Response> {
      return handle('admin', async () => jsonResponse(200, { ok: true }))
    },

    originKey(): Promise<Response> {
      return handle('admin', async () => jsonResponse(200, { alg: 'Ed25519', publicKey: config.originPublicKey, keyId: verifier.keyId }, { 'cache-control': 'public, max-age=300' }))
    },

    unrouted(request: Request, path: string): Promise<Response> {
      return handle('other', async () => {
        throw unroutedError(EDGE_ROUTES, request.method, path)
      })
    },
  }
}

/**
 * The configuration for /_chorus/stats, without its secrets and without the address misses go
 * to: the origin's (or shield's) URL is internal, and knowing it lets anyone skip the edge.
 */
function publicConfig(config: EdgeConfig) {
  const { operatorTokens, originUrl: _internal, ...rest } = config
  return { ...rest, operatorToken: operatorTokens.length > 0 ? 'set' : 'unset' }
}
