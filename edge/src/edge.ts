import {
  CHUNK_PREFIX,
  type ManifestVerifier,
  ProtocolError,
  assertTrackId,
  assertVersion,
  etagMatches,
  keyPath,
  parseChunkPath,
  readBodyLimited,
} from '../../protocol/index.js'
import { createAccess } from './access.js'
import { createCatalogTier } from './catalog-tier.js'
import { type StoredChunk, chunkAnswer } from './chunk-response.js'
import { createChunkTier } from './chunk-tier.js'
import type { EdgeConfig } from './config.js'
import { CORS_HEADERS, IMMUTABLE, errorResponse, jsonResponse, serverTiming, toErrorResponse } from './http.js'
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

const SOURCE: Record<Exclude<CacheStatus, 'PASS'>, Source> = { 'HIT-MEMORY': 'memory', 'HIT-CACHE': 'cache', MISS: 'origin', STALE: 'stale' }
/** Session and key requests are tiny JSON; anything bigger is not one of ours. */
const MAX_PASS_BODY = 16 * 1024

function tierHeaders(status: CacheStatus, timings: Timings): Record<string, string> {
  return { 'x-cache': status, 'server-timing': serverTiming(timings) }
}

/**
 * The edge as request handlers over injected runtime seams (fetch, the Cache API, background
 * work, the clock). worker.ts routes requests here; nothing in this file knows it runs in a
 * Worker. No handler throws: every failure becomes a JSON error answer and is counted.
 */
export function createEdge(options: EdgeOptions) {
  const { config, verifier, cache } = options
  const now = options.now ?? Date.now
  const stats = createEdgeStats(now)
  const origin = createOriginClient({ baseUrl: config.originUrl, fetch: options.fetch, timeoutMs: config.originTimeoutMs, now, observe: stats.origin })
  const negative = createNegativeCache({ ttlSec: config.negativeTtlSec, now })
  const versionIndex = createVersionIndex({ cache })
  const manifests = createManifestTier({
    origin,
    verifier,
    cache,
    negative,
    stats,
    now,
    manifestTtlSec: config.manifestTtlSec,
    staleWindowSec: config.staleWindowSec,
    onVersion: versionIndex.record,
  })
  const memory =
    config.memoryCacheBytes > 0 ? createMemoryCache<StoredChunk>({ maxBytes: config.memoryCacheBytes, policy: config.memoryPolicy, admitAfter: config.admitAfter }) : undefined
  const chunks = createChunkTier({ origin, manifests, cache, memory, stats, now, readAhead: config.readAhead })
  const catalog = createCatalogTier({ origin, now, ttlSec: config.manifestTtlSec, staleWindowSec: config.staleWindowSec })
  const access = createAccess({ verifier, purgeToken: config.purgeToken, now })

  /** Counts the request, turns any failure into its JSON answer, counts errors. */
  async function handle(kind: RequestKind, work: () => Promise<Response>): Promise<Response> {
    stats.request(kind)
    let response: Response
    try {
      response = await work()
    } catch (err) {
      if (!(err instanceof ProtocolError)) options.onBug?.(err)
      response = toErrorResponse(err, err instanceof NegativeHit ? { 'x-cache': 'HIT-MEMORY' } : {})
    }
    if (response.status >= 400) stats.error(response.status)
    return response
  }

  async function forward(request: Request, pathAndQuery: string): Promise<Response> {
    const headers: Record<string, string> = {}
    for (const name of ['authorization', 'content-type', 'x-api-key', 'accept']) {
      const value = request.headers.get(name)
      if (value !== null) headers[name] = value
    }
    let body: Uint8Array | undefined
    if (request.method === 'POST') {
      body = await readBodyLimited(request, MAX_PASS_BODY)
    }
    const answer = await origin.request(pathAndQuery, { method: request.method, headers, ...(body && { body }) })
    const out: Record<string, string> = { ...CORS_HEADERS, 'cache-control': 'no-store', ...tierHeaders('PASS', [{ name: 'origin', ms: answer.ms }]) }
    const type = answer.headers.get('content-type')
    if (type) out['content-type'] = type
    return new Response(request.method === 'HEAD' ? null : answer.body, { status: answer.status, headers: out })
  }

  return {
    config,

    /** GET/HEAD /v1/chunks/{track}/{version}/{bitrate}/{index}. */
    chunk(request: Request, path: string, ctx: RequestContext): Promise<Response> {
      return handle('chunk', async () => {
        const address = parseChunkPath(path.slice(CHUNK_PREFIX.length))
        if (config.requireToken) await access.requirePlay(request.headers.get('authorization'), address.trackId)
        const result = await chunks.get(address, ctx)
        if (result.status !== 'HIT-MEMORY' && !result.joined) chunks.readAhead(address, result.manifest, ctx)
        const answer = chunkAnswer(
          result.chunk,
          { method: request.method, range: request.headers.get('range'), ifNoneMatch: request.headers.get('if-none-match') },
          tierHeaders(result.status, result.timings),
        )
        if (answer.response.status < 400) stats.served('chunk', SOURCE[result.status], answer.bytesSent)
        return answer.response
      })
    },

    /** GET/HEAD a track's current manifest (version undefined) or a pinned version's. */
    manifest(request: Request, trackId: string, version: string | undefined, ctx: RequestContext): Promise<Response> {
      return handle('manifest', async () => {
        assertTrackId(trackId)
        if (version !== undefined) assertVersion(version)
        const result = version === undefined ? await manifests.current(trackId, ctx) : await manifests.pinned(trackId, version, ctx)
        const { entry, status } = result
        const ageSec = Math.max(0, Math.floor((now() - entry.fetchedAt) / 1000))
        const headers: Record<string, string> = { ...CORS_HEADERS, 'content-type': 'application/json', etag: entry.etag, ...tierHeaders(status, result.timings) }
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
        const source = SOURCE[status as Exclude<CacheStatus, 'PASS'>]
        if (etagMatches(request.headers.get('if-none-match'), entry.etag)) {
          stats.served('manifest', source, 0)
          return new Response(null, { status: 304, headers })
        }
        const head = request.method === 'HEAD'
        stats.served('manifest', source, head ? 0 : entry.body.length)
        return new Response(head ? null : entry.body, { status: 200, headers })
      })
    },

    /** GET/HEAD /v1/tracks. */
    catalog(request: Request): Promise<Response> {
      return handle('catalog', async () => {
        const result = await catalog.get()
        const ageSec = Math.max(0, Math.floor((now() - result.fetchedAt) / 1000))
        const headers: Record<string, string> = {
          ...CORS_HEADERS,
          'content-type': 'application/json',
          'cache-control': result.status === 'STALE' ? 'no-cache' : `public, max-age=${Math.max(0, config.manifestTtlSec - ageSec)}`,
          age: String(ageSec),
          ...tierHeaders(result.status, result.timings),
        }
        if (result.status === 'STALE') headers['x-chorus-stale'] = `origin unavailable; fetched ${ageSec} s ago`
        const head = request.method === 'HEAD'
        stats.served('catalog', SOURCE[result.status], head ? 0 : result.body.byteLength)
        return new Response(head ? null : result.body, { status: 200, headers })
      })
    },

    /** POST /v1/session: to the origin and back, never stored. */
    session(request: Request): Promise<Response> {
      return handle('pass', () => forward(request, '/v1/session'))
    },

    /** GET /v1/tracks/:id/key: to the origin and back, never stored; the edge never holds a key. */
    trackKey(request: Request, trackId: string): Promise<Response> {
      return handle('pass', async () => {
        assertTrackId(trackId)
        const url = new URL(request.url)
        const version = url.searchParams.get('version')
        for (const name of url.searchParams.keys()) if (name !== 'version') throw new ProtocolError('bad_request', `unknown query parameter '${name.slice(0, 40)}'`)
        return forward(request, keyPath(trackId, version === null ? undefined : assertVersion(version)))
      })
    },

    /** POST /_chorus/purge {"track": id} | {"chunk": "/v1/chunks/..."}: both tiers, authenticated. */
    purge(request: Request, ctx: RequestContext): Promise<Response> {
      return handle('admin', async () => {
        await access.requirePurge(request.headers.get('authorization'))
        const target = await purgeRequest(request)
        if (target.kind === 'chunk') {
          const counts = await chunks.purgeChunk(target.address, ctx)
          return jsonResponse(200, { purged: { chunk: target.path, ...counts } })
        }
        const { trackId } = target
        const versions = new Set(await versionIndex.versions(trackId, ctx))
        const current = await manifests.heldCurrentVersion(trackId, ctx)
        if (current !== undefined) versions.add(current)
        const held = []
        const unreadable: string[] = []
        for (const v of versions) {
          const m = await manifests.forPurge(trackId, v, ctx)
          if (m) held.push(m)
          else unreadable.push(v)
        }
        const fromChunks = await chunks.purgeTrack(trackId, held, ctx)
        const fromManifests = await manifests.purge(trackId, [...versions], ctx)
        if (unreadable.length === 0) await versionIndex.forget(trackId, ctx)
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

    stats(): Promise<Response> {
      return handle('admin', async () => jsonResponse(200, { config: publicConfig(config), ...stats.snapshot(memory?.stats() ?? null) }))
    },

    metrics(): Promise<Response> {
      return handle('admin', async () =>
        new Response(renderPrometheus(stats.snapshot(memory?.stats() ?? null)), { headers: { ...CORS_HEADERS, 'content-type': 'text/plain; version=0.0.4', 'cache-control': 'no-store' } }),
      )
    },

    health(): Promise<Response> {
      return handle('admin', async () => jsonResponse(200, { ok: true, origin: config.originUrl, keyId: verifier.keyId, policy: config.memoryPolicy }))
    },

    originKey(): Promise<Response> {
      return handle('admin', async () => jsonResponse(200, { alg: 'Ed25519', publicKey: config.originPublicKey, keyId: verifier.keyId }, { 'cache-control': 'public, max-age=300' }))
    },

    notFound(request: Request, path: string): Promise<Response> {
      return handle('other', async () => errorResponse('not_found', `no route ${request.method} ${path.slice(0, 200)}`))
    },

    methodNotAllowed(request: Request, allow: string): Promise<Response> {
      return handle('other', async () => errorResponse('method_not_allowed', `${request.method.slice(0, 20)} is not allowed here; use ${allow}`, { allow }))
    },
  }
}

export type Edge = ReturnType<typeof createEdge>

/** The configuration without its secrets, for /_chorus/stats. */
function publicConfig(config: EdgeConfig) {
  const { purgeToken, ...rest } = config
  return { ...rest, purgeToken: purgeToken === undefined ? 'unset' : 'set' }
}
