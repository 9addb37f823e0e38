import { Hono } from 'hono'
import type { Context } from 'hono'
import {
  CHUNK_PREFIX,
  CORS_HEADERS,
  HEAD_MIME,
  type HttpAnswer,
  MAX_BATCH_KEYS,
  MAX_SESSION_KEYS,
  type SessionKeyEntry,
  type TrackKeyAnswer,
  encodeHead,
  headChunkCount,
  headQuality,
  parseHeadKbps,
  IMMUTABLE,
  ORIGIN_ROUTES,
  PREFLIGHT_HEADERS,
  ProtocolError,
  type Audience,
  type Scope,
  SCOPES,
  assertTrackId,
  assertVersion,
  answerError,
  bearerToken,
  etagMatches,
  findRoute,
  readTextLimited,
  signToken,
  verifyToken,
  assertOperator,
  unroutedError,
} from '../../protocol/index.js'
import type { ApiKeyGrant, ApiKeyLookup } from './api-key-grants.js'
import { chunkResponse } from './chunk-response.js'
import type { Metrics } from './metrics.js'
import type { OriginKeys } from './signing-key.js'
import { isTrackKeyText } from './key-wrap.js'
import type { MasterReader, TrackKeyReader, TrackKeyWriter } from './storage.js'

/**
 * The origin's HTTP API as a Hono app: values in (requests), values out (responses), with the
 * store, keys, clock and log injected. server.ts binds it to a socket over the directory store;
 * origin/worker/ runs the same app in a Worker over R2, so the two answer alike by construction.
 * No node:* import here or below.
 */
export interface OriginAppOptions {
  /** Where masters are read from (storage.ts): the directory or R2. */
  store: MasterReader
  /** The key service's store; absent: this origin serves no keys (GET .../key is a 404 saying so). */
  trackKeys?: TrackKeyReader
  /**
   * Where PUT /v1/admin/track-keys/:id/:version puts a key (an ingest publishing into R2 hands
   * keys over this way); absent: no such route. Needs operatorToken: never open, not even locally.
   */
  trackKeyWriter?: TrackKeyWriter
  keys: OriginKeys
  apiKeys: ApiKeyLookup
  metrics: Metrics
  now?: () => number
  tokenTtlSec?: number
  manifestMaxAgeSec?: number
  log?: (line: Record<string, unknown>) => void
  /** Guards /metrics (protocol's operator rule); unset: open, for a developer's own machine. */
  operatorToken?: string
}

/** The route a request is counted and logged under (protocol's table). */
function routeOf(path: string): string {
  return findRoute(ORIGIN_ROUTES, path)?.name ?? 'other'
}

/**
 * The origin's one way from a thrown value to an answer: every adapter (the Hono app, the Node
 * fast path, the Worker) sends what this returns. Ours keep their code; anything else is a bug,
 * logged here and answered with a 500 that says nothing of it.
 */
export function originErrorAnswer(err: unknown, path: string, log?: (line: Record<string, unknown>) => void): HttpAnswer {
  if (!(err instanceof ProtocolError)) log?.({ level: 'error', path: path.slice(0, 200), error: String((err as Error)?.stack ?? err) })
  // An outage of the store is ours to answer but the operator's to know of: its cause is logged.
  else if (err.code === 'storage_unavailable') log?.({ level: 'error', path: path.slice(0, 200), error: String((err.cause as Error)?.stack ?? err.cause ?? err.message) })
  return answerError(err)
}

/** An answer as a Fetch Response, for the Hono app and the Worker. */
export function toResponse(answer: HttpAnswer): Response {
  return new Response(answer.body as BodyInit | null, { status: answer.status, headers: answer.headers })
}

export interface RequestRecord {
  method: string
  path: string
  status: number
  bytes: number
  ms: number
}

/** Counts a request in the metrics and writes its log line; shared by the app and the server's fast path. */
export function createRequestObserver(options: Pick<OriginAppOptions, 'metrics' | 'log' | 'now'>): (r: RequestRecord) => void {
  const { metrics, log } = options
  const now = options.now ?? Date.now
  // Routes and statuses are few: each pair's series are resolved once, off the hot path.
  const seriesOf = new Map<string, { requests: { add(by?: number): void }; bytes: { add(by?: number): void } }>()
  return (r) => {
    const route = routeOf(r.path)
    const pair = `${route} ${r.status}`
    let s = seriesOf.get(pair)
    if (!s) {
      s = {
        requests: metrics.series('requests_total', 'HTTP requests by route and status.', { route, status: String(r.status) }),
        bytes: metrics.series('bytes_out_total', 'Response body bytes sent.', { route }),
      }
      seriesOf.set(pair, s)
    }
    s.requests.add()
    if (r.method !== 'HEAD') s.bytes.add(r.bytes)
    metrics.observeMs(r.ms)
    log?.({ t: new Date(now()).toISOString(), method: r.method, path: r.path, route, status: r.status, bytes: r.bytes, ms: Math.round(r.ms * 100) / 100 })
  }
}

export function createOriginApp(options: OriginAppOptions): Hono {
  const { store, keys, apiKeys, metrics } = options
  const now = options.now ?? Date.now
  const observe = createRequestObserver(options)
  const manifestMaxAge = options.manifestMaxAgeSec ?? 10
  const app = new Hono()

  app.use('*', async (c, next) => {
    const started = performance.now()
    await next()
    observe({ method: c.req.method, path: c.req.path, status: c.res.status, bytes: Number(c.res.headers.get('content-length') ?? 0), ms: performance.now() - started })
  })

  app.use('*', async (c, next) => {
    await next()
    for (const [name, value] of Object.entries(CORS_HEADERS)) c.res.headers.set(name, value)
  })

  app.options('*', (c) => c.body(null, 204, { ...PREFLIGHT_HEADERS }))

  app.get('/healthz', async (c) => c.json({ ok: true, tracks: (await store.catalog()).length, keyId: keys.keyId }))

  app.get('/metrics', async (c) => {
    assertOperator(c.req.header('authorization'), options.operatorToken)
    const text = metrics.render({ catalog_tracks: { help: 'Tracks in the catalog.', value: (await store.catalog()).length } })
    return c.body(text, 200, { 'content-type': 'text/plain; version=0.0.4' })
  })

  app.get('/v1/origin-key', (c) => c.json({ alg: 'Ed25519', publicKey: keys.publicKey, keyId: keys.keyId }))

  app.get('/v1/tracks', async (c) => {
    const tracks = await store.catalog()
    return c.json({ tracks }, 200, { 'cache-control': `public, max-age=${manifestMaxAge}` })
  })

  async function serveManifest(c: Context, trackId: string, version: string | undefined) {
    assertTrackId(trackId)
    const v = version === undefined ? await store.currentVersion(trackId) : assertVersion(version)
    if (v === undefined) throw new ProtocolError('track_not_found', `no track '${trackId}'`)
    const stored = await store.manifest(trackId, v)
    if (!stored) throw new ProtocolError(version === undefined ? 'track_not_found' : 'version_not_found', `no version '${v}' of track '${trackId}'`)
    const etag = `"${stored.doc.manifest.version}-${stored.doc.signature.slice(0, 16)}"`
    // A pinned version never changes; the current one does when the track is re-ingested.
    const cacheControl = version === undefined ? `public, max-age=${manifestMaxAge}` : IMMUTABLE
    const headers = { etag, 'cache-control': cacheControl, 'content-type': 'application/json' }
    if (etagMatches(c.req.header('if-none-match'), etag)) return c.body(null, 304, headers)
    return c.body(stored.body, 200, headers)
  }

  app.get('/v1/tracks/:id/manifest', (c) => serveManifest(c, c.req.param('id'), undefined))

  // A cold play's one question to the edge: the current manifest and the chunks of its first
  // audio (protocol/src/head.ts). It changes when the track is re-ingested, as the manifest does.
  app.get('/v1/tracks/:id/head', async (c) => {
    const trackId = assertTrackId(c.req.param('id'))
    const kbps = parseHeadKbps(c.req.query('kbps'))
    const version = await store.currentVersion(trackId)
    const stored = version === undefined ? undefined : await store.manifest(trackId, version)
    if (!version || !stored) throw new ProtocolError('track_not_found', `no track '${trackId}'`)
    const quality = headQuality(stored.doc.manifest.qualities, kbps)
    const chunks = await Promise.all(Array.from({ length: headChunkCount(quality) }, (_, i) => store.chunk(trackId, version, quality.bitrate, i)))
    if (chunks.some((x) => !x)) throw new ProtocolError('chunk_not_found', `the head of '${trackId}' version '${version}' is not all there`)
    const etag = `"${version}-${quality.bitrate}-${stored.doc.signature.slice(0, 16)}"`
    const headers = { etag, 'cache-control': `public, max-age=${manifestMaxAge}`, 'content-type': HEAD_MIME }
    if (etagMatches(c.req.header('if-none-match'), etag)) return c.body(null, 304, headers)
    const body = encodeHead(
      stored.body,
      quality.bitrate,
      chunks.map((x) => x!.bytes),
    )
    return c.body(body, 200, headers)
  })
  app.get('/v1/tracks/:id/versions/:version/manifest', (c) => serveManifest(c, c.req.param('id'), c.req.param('version')))

  app.get(`${CHUNK_PREFIX}*`, async (c) => {
    return toResponse(await chunkResponse(store, c.req.path, { method: c.req.method, range: c.req.header('range'), ifNoneMatch: c.req.header('if-none-match') }))
  })

  app.post('/v1/session', async (c) => {
    let body: { apiKey?: unknown; scope?: unknown; subject?: unknown; renew?: unknown; tracks?: unknown[]; keys?: unknown } = {}
    const type = c.req.header('content-type') ?? ''
    if (type.includes('application/json')) {
      const text = await readTextLimited(c.req.raw, 4096, 'session request body')
      try {
        body = JSON.parse(text || '{}')
      } catch {
        throw new ProtocolError('bad_request', 'session request body is not JSON')
      }
      if (typeof body !== 'object' || body === null) throw new ProtocolError('bad_request', 'session request body must be a JSON object')
    }
    const apiKey = body.apiKey ?? c.req.header('x-api-key')
    if (typeof apiKey !== 'string' || apiKey === '') throw new ProtocolError('unauthorized', 'send an API key as {"apiKey": "..."} or an X-Api-Key header')
    const grant = await apiKeys.lookup(apiKey)
    if (!grant) throw new ProtocolError('invalid_api_key', 'unknown API key')
    let scope = grant.scope
    if (body.scope !== undefined) {
      if (!Array.isArray(body.scope) || !body.scope.every((s) => (SCOPES as readonly unknown[]).includes(s))) {
        throw new ProtocolError('bad_request', `scope must be a list of ${SCOPES.join(', ')}`)
      }
      const wanted = body.scope as Scope[]
      const extra = wanted.filter((s) => !grant.scope.includes(s))
      if (extra.length) throw new ProtocolError('forbidden', `this API key may not grant ${extra.join(', ')}`)
      scope = wanted
    }
    let tracks = grant.tracks
    if (body.tracks !== undefined) {
      if (!Array.isArray(body.tracks) || body.tracks.length === 0 || body.tracks.length > 256) throw new ProtocolError('bad_request', 'tracks must be a list of 1 to 256 track ids')
      const wanted = body.tracks.map((id) => assertTrackId(id))
      const extra = grant.tracks ? wanted.filter((id) => !grant.tracks!.includes(id)) : []
      if (extra.length) throw new ProtocolError('forbidden', `this API key may not grant ${extra.slice(0, 5).join(', ')}`)
      tracks = wanted
    }
    let keysFor: string[] | undefined
    if (body.keys !== undefined) {
      if (!Array.isArray(body.keys) || body.keys.length === 0 || body.keys.length > MAX_SESSION_KEYS)
        throw new ProtocolError('bad_request', `keys must be a list of 1 to ${MAX_SESSION_KEYS} track ids`)
      keysFor = [...new Set(body.keys.map((id) => assertTrackId(id)))]
    }
    const ttlSec = options.tokenTtlSec ?? 3600
    const sub = await sessionSubject(grant, body, ttlSec)
    // One token per service, so that none is any good at another: what passes through an edge
    // cannot fetch a key, and the key service's token never goes to an edge or a tracker.
    const issue = (aud: Audience, scopes: Scope[]) => signToken({ sub, scope: scopes, aud: [aud], ...(tracks && { tracks }), ttlSec }, keys.tokenSigner, now())
    const [keysToken, edgeToken, trackerToken] = await Promise.all([
      issue(
        'keys',
        scope.filter((s) => s === 'play'),
      ),
      issue(
        'edge',
        scope.filter((s) => s !== 'announce'),
      ),
      issue(
        'tracker',
        scope.filter((s) => s === 'announce'),
      ),
    ])
    // The keys asked for with the session, under the same rules as GET .../key with its keys token.
    const sessionKeys = keysFor && (await keyEntries(keysFor, scope, tracks))
    return c.json(
      {
        token: keysToken,
        tokens: { keys: keysToken, edge: edgeToken, tracker: trackerToken },
        tokenType: 'Bearer',
        scope,
        ...(tracks && { tracks }),
        expiresAt: new Date(now() + ttlSec * 1000).toISOString(),
        ...(sessionKeys && { keys: sessionKeys }),
      },
      200,
      { 'cache-control': 'no-store' },
    )
  })

  /**
   * Who a session is for. The origin picks it (a random id), because a listener who chose its own
   * could step out of a ban at the tracker by naming a new one. A renewal proves the previous
   * session with its key-service token (even one expired up to a token's life ago) and keeps its
   * subject (the tracker binds peer ids to it).
   * Only an API key marked `subjects` (an app's backend that signs its users in) names subjects.
   */
  async function sessionSubject(grant: ApiKeyGrant, body: { subject?: unknown; renew?: unknown }, ttlSec: number): Promise<string> {
    if (body.renew !== undefined) {
      if (typeof body.renew !== 'string') throw new ProtocolError('bad_request', 'renew must be the session token being renewed')
      // Up to a token's life after it ran out: an app that slept through expiry keeps its subject.
      const previous = await verifyToken(body.renew, keys.verifier, { now: now(), audience: 'keys', graceSec: ttlSec })
      if (!previous.sub.startsWith(`${grant.name}:`)) throw new ProtocolError('forbidden', 'that session was issued under another API key')
      return previous.sub
    }
    if (body.subject !== undefined) {
      if (!grant.subjects) throw new ProtocolError('forbidden', 'this API key may not name subjects (a listener may not choose who it is); renew a session with {"renew": "<token>"}')
      if (typeof body.subject !== 'string' || !/^[\w.-]{1,64}$/.test(body.subject)) throw new ProtocolError('bad_request', 'subject must be 1-64 letters, digits, dots, dashes or underscores')
      return `${grant.name}:${body.subject}`
    }
    return `${grant.name}:${crypto.randomUUID()}`
  }

  app.get('/v1/tracks/:id/key', async (c) => {
    const trackId = assertTrackId(c.req.param('id'))
    const token = bearerToken(c.req.header('authorization'))
    if (!token) throw new ProtocolError('unauthorized', 'a track key needs a session token: Authorization: Bearer <token> (POST /v1/session)')
    await verifyToken(token, keys.verifier, { now: now(), audience: 'keys', scope: 'play', track: trackId })
    return c.json(await currentTrackKey(trackId, c.req.query('version')), 200, { 'cache-control': 'no-store, private' })
  })

  // Many tracks' current keys at once (a client renewing the keys of its cached tracks): the
  // rules of GET .../key for each, with one token check; a track refused gets its error.
  app.post('/v1/keys', async (c) => {
    const token = bearerToken(c.req.header('authorization'))
    if (!token) throw new ProtocolError('unauthorized', 'track keys need a session token: Authorization: Bearer <token> (POST /v1/session)')
    const claims = await verifyToken(token, keys.verifier, { now: now(), audience: 'keys' })
    let body: { tracks?: unknown }
    try {
      body = JSON.parse(await readTextLimited(c.req.raw, 8192, 'keys request body')) as { tracks?: unknown }
    } catch (err) {
      if (err instanceof ProtocolError) throw err
      throw new ProtocolError('bad_request', 'keys request body is not JSON')
    }
    if (typeof body !== 'object' || body === null || !Array.isArray(body.tracks) || body.tracks.length === 0 || body.tracks.length > MAX_BATCH_KEYS) {
      throw new ProtocolError('bad_request', `send {"tracks": [...]}: 1 to ${MAX_BATCH_KEYS} track ids`)
    }
    const wanted = [...new Set(body.tracks.map((id) => assertTrackId(id)))]
    return c.json({ keys: await keyEntries(wanted, claims.scope, claims.tracks) }, 200, { 'cache-control': 'no-store, private' })
  })

  /** Each track's current key, or its error: refused without the 'play' scope or outside `tracks`. */
  function keyEntries(trackIds: string[], scope: readonly Scope[], tracks: readonly string[] | undefined): Promise<SessionKeyEntry[]> {
    return Promise.all(
      trackIds.map(async (trackId): Promise<SessionKeyEntry> => {
        try {
          if (!scope.includes('play')) throw new ProtocolError('forbidden', "this session has no 'play' scope")
          if (tracks && !tracks.includes(trackId)) throw new ProtocolError('forbidden', `this session may not play '${trackId}'`)
          return await currentTrackKey(trackId, undefined)
        } catch (err) {
          if (!(err instanceof ProtocolError)) throw err
          return { trackId, ...err.toJSON() }
        }
      }),
    )
  }

  /** A version's key (the current one when `asked` is undefined), for a caller already authorised. */
  async function currentTrackKey(trackId: string, asked: string | undefined): Promise<TrackKeyAnswer> {
    const version = asked === undefined ? await store.currentVersion(trackId) : assertVersion(asked)
    if (!version) throw new ProtocolError('track_not_found', `no track '${trackId}'`)
    if (!options.trackKeys) throw new ProtocolError('not_found', 'this origin serves no track keys; ask the key service')
    const key = await options.trackKeys.trackKey(trackId, version)
    if (!key) throw new ProtocolError('version_not_found', `no version '${version}' of track '${trackId}'`)
    return { trackId, version, alg: 'AES-128-CTR', key }
  }

  if (options.trackKeyWriter) {
    const writer = options.trackKeyWriter
    app.put('/v1/admin/track-keys/:id/:version', async (c) => {
      // Writing keys is never open: without a configured operator token there is no one to allow.
      if (!options.operatorToken) throw new ProtocolError('forbidden', 'key uploads need an operator token configured on this origin (CHORUS_OPERATOR_TOKEN)')
      assertOperator(c.req.header('authorization'), options.operatorToken)
      const trackId = assertTrackId(c.req.param('id'))
      const version = assertVersion(c.req.param('version'))
      let body: { key?: unknown }
      try {
        body = JSON.parse(await readTextLimited(c.req.raw, 1024, 'track key body')) as { key?: unknown }
      } catch (err) {
        if (err instanceof ProtocolError) throw err
        throw new ProtocolError('bad_request', 'the body must be JSON: {"key": "<16 bytes, base64url>"}')
      }
      if (typeof body !== 'object' || body === null || !isTrackKeyText(body.key)) throw new ProtocolError('bad_request', 'key must be 16 bytes in base64url (22 characters)')
      await writer.putTrackKey(trackId, version, body.key)
      return c.json({ trackId, version }, 201, { 'cache-control': 'no-store' })
    })
  }

  // Key uploads are a route only where a key writer is configured; elsewhere their path is a 404.
  const routes = options.trackKeyWriter ? ORIGIN_ROUTES : ORIGIN_ROUTES.filter((r) => r.name !== 'admin')
  app.all('*', (c) => {
    throw unroutedError(routes, c.req.method, c.req.path)
  })

  app.onError((err, c) => toResponse(originErrorAnswer(err, c.req.path, options.log)))

  return app
}
