import t from 'tap'
import {
  CORS_HEADERS,
  EDGE_ROUTES,
  HttpError,
  IMMUTABLE,
  ORIGIN_ROUTES,
  PREFLIGHT_HEADERS,
  ProtocolError,
  answerBytes,
  answerChunk,
  answerError,
  answerJson,
  findRoute,
  unroutedError,
} from '../index.js'

const bytes = Uint8Array.from({ length: 100 }, (_, i) => i)
const chunk = { bytes, etag: '"abc"' }
const json = (body: unknown) => JSON.parse(String(body)) as { error: { code: string; message: string } }

t.test('a plain GET is a 200 of the whole chunk, immutable, with its ETag and CORS', async (t) => {
  const a = answerChunk(chunk, {})
  t.equal(a.status, 200)
  t.equal(a.body, bytes)
  t.match(a.headers, { ...CORS_HEADERS, etag: '"abc"', 'cache-control': IMMUTABLE, 'accept-ranges': 'bytes', 'content-type': 'application/octet-stream', 'content-length': '100' })
  t.notOk('content-range' in a.headers)
  t.equal(answerBytes(a), 100)
})

t.test('Range', async (t) => {
  const part = answerChunk(chunk, { range: 'bytes=5-20' })
  t.equal(part.status, 206)
  t.same(part.body, bytes.subarray(5, 21))
  t.equal(part.headers['content-range'], 'bytes 5-20/100')
  t.equal(part.headers['content-length'], '16')
  t.equal(part.headers.etag, '"abc"')

  const suffix = answerChunk(chunk, { range: 'bytes=-7' })
  t.equal(suffix.headers['content-range'], 'bytes 93-99/100')
  t.equal(answerBytes(suffix), 7)

  t.equal(answerChunk(chunk, { range: 'bytes=90-5000' }).headers['content-range'], 'bytes 90-99/100', 'an end past the chunk is clamped')
  t.equal(answerChunk(chunk, { range: '' }).status, 200, 'an empty Range is no Range')

  for (const range of ['bytes=100-', 'bytes=zz', 'bytes=0-1,5-6', 'bytes=5-1']) {
    const a = answerChunk(chunk, { range })
    t.equal(a.status, 416, range)
    t.equal(a.headers['content-range'], 'bytes */100')
    t.equal(a.headers['content-type'], 'application/json')
    t.equal(a.headers['access-control-allow-origin'], '*')
    t.notOk('etag' in a.headers, 'a 416 is no representation of the chunk')
    t.equal(json(a.body).error.code, 'invalid_range')
  }
  t.ok(json(answerChunk(chunk, { range: `bytes=${'9'.repeat(500)}-` }).body).error.message.length < 200, 'a long Range is not echoed whole')
})

t.test('If-None-Match', async (t) => {
  const a = answerChunk(chunk, { ifNoneMatch: '"x", W/"abc"' })
  t.equal(a.status, 304)
  t.equal(a.body, null)
  t.equal(a.headers.etag, '"abc"')
  t.equal(a.headers['cache-control'], IMMUTABLE)
  t.notOk('content-length' in a.headers)
  t.equal(answerChunk(chunk, { ifNoneMatch: '"abc"', range: 'bytes=0-1' }).status, 304, 'a match wins over a Range')
  t.equal(answerChunk(chunk, { ifNoneMatch: '"other"', range: 'bytes=0-1' }).status, 206)
  t.equal(answerChunk(chunk, { ifNoneMatch: '"other"' }).status, 200)
})

t.test('HEAD: the headers of the GET, no body', async (t) => {
  for (const request of [{}, { range: 'bytes=0-9' }, { range: 'bytes=zz' }]) {
    const get = answerChunk(chunk, request)
    const head = answerChunk(chunk, { ...request, method: 'HEAD' })
    t.equal(head.status, get.status)
    t.same(head.headers, get.headers)
    t.equal(head.body, null)
    t.equal(answerBytes(head), 0)
  }
})

t.test("a server's own headers go on every chunk answer", async (t) => {
  for (const request of [{}, { range: 'bytes=0-9' }, { range: 'bytes=zz' }, { ifNoneMatch: '"abc"' }]) {
    t.equal(answerChunk(chunk, request, { 'x-cache': 'MISS' }).headers['x-cache'], 'MISS')
  }
})

t.test('errors: a ProtocolError keeps its code and status; anything else is a bare 500', async (t) => {
  const a = answerError(new ProtocolError('chunk_not_found', 'no chunk 9'))
  t.equal(a.status, 404)
  t.same(json(a.body), { error: { code: 'chunk_not_found', message: 'no chunk 9' } })
  t.match(a.headers, { 'content-type': 'application/json', 'cache-control': 'no-store', ...CORS_HEADERS })

  const bug = answerError(new Error('secret path /var/data'), { internalMessage: 'internal error at the edge' })
  t.equal(bug.status, 500)
  t.same(json(bug.body), { error: { code: 'internal', message: 'internal error at the edge' } })
  t.equal(json(answerError('thrown string').body).error.message, 'internal error')

  t.equal(answerError(new ProtocolError('forbidden', 'no'), { headers: { 'cache-status': 'x' } }).headers['cache-status'], 'x')
  const allow = answerError(new HttpError('method_not_allowed', 'use GET', { allow: 'GET' }))
  t.equal(allow.status, 405)
  t.equal(allow.headers.allow, 'GET')

  class Detailed extends ProtocolError {
    override toJSON() {
      return { ...super.toJSON(), problems: ['A'] }
    }
  }
  t.same(JSON.parse(String(answerError(new Detailed('config_invalid', 'bad')).body)), { error: { code: 'config_invalid', message: 'bad' }, problems: ['A'] }, 'an error may say more in its JSON')
  t.equal(answerBytes(answerJson(200, { a: 'é' })), 10, 'bytes, not characters')
})

t.test('CORS: one list, and the preflight adds what a player sends', async (t) => {
  t.equal(CORS_HEADERS['access-control-allow-origin'], '*')
  for (const h of ['etag', 'content-range', 'content-length', 'accept-ranges', 'x-cache', 'cache-status', 'server-timing', 'age']) t.match(CORS_HEADERS['access-control-expose-headers'], h)
  t.match(PREFLIGHT_HEADERS, CORS_HEADERS)
  for (const h of ['authorization', 'range', 'if-none-match', 'content-type']) t.match(PREFLIGHT_HEADERS['access-control-allow-headers'], h)
})

t.test('routes', async (t) => {
  const name = (routes: typeof ORIGIN_ROUTES, path: string) => findRoute(routes, path)?.name
  for (const routes of [ORIGIN_ROUTES, EDGE_ROUTES]) {
    t.equal(name(routes, '/v1/chunks/song/v1/96/0'), 'chunk')
    t.equal(name(routes, '/v1/tracks/song/manifest'), 'manifest')
    t.equal(name(routes, '/v1/tracks/song/versions/v1/manifest'), 'manifest')
    t.equal(name(routes, '/v1/tracks'), 'catalog')
    t.equal(name(routes, '/v1/tracks/song/key'), 'key')
    t.equal(name(routes, '/v1/session'), 'session')
    t.equal(name(routes, '/healthz'), 'healthz')
    t.equal(name(routes, '/v1/origin-key'), 'origin-key')
    t.equal(name(routes, '/v1/tracks/a/b/manifest'), undefined)
    t.equal(name(routes, '/v1/tracks/'), undefined)
  }
  t.equal(name(ORIGIN_ROUTES, '/metrics'), 'metrics')
  t.equal(name(ORIGIN_ROUTES, '/v1/admin/track-keys/song/v1'), 'admin')
  t.equal(name(ORIGIN_ROUTES, '/_chorus/stats'), undefined)
  t.equal(name(EDGE_ROUTES, '/_chorus/metrics'), 'metrics')
  t.equal(name(EDGE_ROUTES, '/_chorus/stats'), 'stats')
  t.equal(name(EDGE_ROUTES, '/_chorus/purge'), 'purge')
  t.equal(name(EDGE_ROUTES, '/metrics'), undefined)

  const wrongMethod = answerError(unroutedError(ORIGIN_ROUTES, 'DELETE', '/v1/chunks/song/v1/96/0'))
  t.equal(wrongMethod.status, 405)
  t.equal(wrongMethod.headers.allow, 'GET, HEAD, OPTIONS')
  t.equal(answerError(unroutedError(ORIGIN_ROUTES, 'GET', '/v1/session')).headers.allow, 'POST, OPTIONS')
  t.equal(answerError(unroutedError(EDGE_ROUTES, 'GET', '/_chorus/purge')).headers.allow, 'POST, OPTIONS')
  const nowhere = answerError(unroutedError(EDGE_ROUTES, 'GET', `/nowhere${'x'.repeat(500)}`))
  t.equal(nowhere.status, 404)
  t.equal(json(nowhere.body).error.code, 'not_found')
  t.ok(json(nowhere.body).error.message.length < 240, 'a long path is not echoed whole')
})
