import t from 'tap'
import type { Test } from 'tap'
import { chunkPaths, makeCatalog, signedManifest, sleep, startEdge, startProxy, startTestOrigin } from '../../test-support/edge.js'

const { dataDir } = await makeCatalog(t, [{ trackId: 'song', seconds: 2 }])
const origin = await startTestOrigin(t, dataDir)
const proxy = await startProxy(t, origin.url)
const edge = await startEdge(t, { ORIGIN_URL: proxy.url, ORIGIN_PUBLIC_KEY: origin.keys.publicKey, NEGATIVE_TTL_SEC: '3', READ_AHEAD: '0' })
const doc = await signedManifest(origin.url, 'song')
const { version } = doc.manifest
const quality = doc.manifest.qualities[0]!
const good = chunkPaths(doc.manifest)[0]!

async function expectError(t: Test, path: string, status: number, code: string | RegExp, init?: RequestInit): Promise<Response> {
  const res = await edge.get(path, init)
  t.equal(res.status, status, `${init?.method ?? 'GET'} ${path.slice(0, 80)} -> ${status}`)
  t.match(res.headers.get('content-type'), /application\/json/)
  const body = (await res.json()) as { error: { code: string; message: string } }
  t.match(body.error.code, code)
  t.ok(body.error.message.length > 0)
  return res
}

t.test('a malformed chunk path is a 400 and never reaches the origin', async (t) => {
  const before = proxy.countPrefix('/v1/chunks/')
  const bad = [
    '/v1/chunks/',
    '/v1/chunks/song',
    `/v1/chunks/song/${version}/96`,
    `/v1/chunks/song/${version}/96/0/extra`,
    `/v1/chunks/Song/${version}/96/0`,
    `/v1/chunks/song/V!/96/0`,
    `/v1/chunks/song/${version}/abc/0`,
    `/v1/chunks/song/${version}/0/0`,
    `/v1/chunks/song/${version}/96/-1`,
    `/v1/chunks/song/${version}/96/01`,
    `/v1/chunks/song/${version}/96/1e3`,
    `/v1/chunks/a%2fb/${version}/96/0`,
    `/v1/chunks/song/${version}/96/0%20`,
    `/v1/chunks/song%00/${version}/96/0`,
    `/v1/chunks/${'a'.repeat(5000)}/${version}/96/0`,
  ]
  for (const path of bad) await expectError(t, path, 400, /^invalid_(path|id)$/)
  t.equal(proxy.countPrefix('/v1/chunks/'), before)
})

t.test('unknown tracks, versions, qualities and indexes are 404s', async (t) => {
  await expectError(t, '/v1/tracks/nope/manifest', 404, 'track_not_found')
  await expectError(t, '/v1/tracks/song/versions/zzzzzzzz/manifest', 404, 'version_not_found')
  await expectError(t, `/v1/chunks/song/zzzzzzzz/96/0`, 404, 'version_not_found')
  const chunksBefore = proxy.countPrefix('/v1/chunks/')
  await expectError(t, `/v1/chunks/song/${version}/96/${quality.chunkCount}`, 404, 'chunk_not_found')
  await expectError(t, `/v1/chunks/song/${version}/320/0`, 404, 'chunk_not_found')
  t.equal(proxy.countPrefix('/v1/chunks/'), chunksBefore, 'the manifest answers these: the origin is not asked')
  await expectError(t, '/v1/tracks/BAD!/manifest', 400, 'invalid_id')
  await expectError(t, '/v1/tracks/song/versions/NO/manifest', 400, 'invalid_id')
})

t.test('a 404 from the origin is remembered for NEGATIVE_TTL_SEC', async (t) => {
  const path = '/v1/tracks/ghost/manifest'
  const first = Date.now()
  await expectError(t, path, 404, 'track_not_found')
  const cached = await expectError(t, path, 404, 'track_not_found')
  t.equal(cached.headers.get('x-cache'), 'HIT-MEMORY')
  t.equal(proxy.count(path), 1, 'the second 404 came from the negative cache')
  t.ok((await edge.stats()).negativeHits >= 1)
  await sleep(Math.max(0, first + 3200 - Date.now()))
  await expectError(t, path, 404, 'track_not_found')
  t.equal(proxy.count(path), 2, 'asked again once the negative TTL ran out')
})

t.test('methods other than the route takes are 405s with an Allow header; unknown routes 404', async (t) => {
  for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) {
    const res = await expectError(t, good, 405, 'method_not_allowed', { method })
    t.equal(res.headers.get('allow'), 'GET, HEAD, OPTIONS')
  }
  await expectError(t, '/v1/tracks/song/manifest', 405, 'method_not_allowed', { method: 'DELETE' })
  await expectError(t, '/v1/tracks', 405, 'method_not_allowed', { method: 'POST', body: '{}' })
  await expectError(t, '/_chorus/stats', 405, 'method_not_allowed', { method: 'POST' })
  await expectError(t, '/', 404, 'not_found')
  await expectError(t, '/v2/chunks/x', 404, 'not_found')
  await expectError(t, '/v1/tracks/song/lyrics', 404, 'not_found')
})

t.test('session and key paths, however odd, are a 404 not_at_edge and never reach the origin', async (t) => {
  await expectError(t, '/v1/tracks/BAD!/key', 404, 'not_at_edge')
  await expectError(t, '/v1/tracks/song/key?version=NO', 404, 'not_at_edge')
  await expectError(t, '/v1/tracks/song/key?evil=1', 404, 'not_at_edge')
  await expectError(t, '/v1/session', 404, 'not_at_edge', { method: 'POST', headers: { 'content-type': 'application/json' }, body: 'x'.repeat(20_000) })
  await expectError(t, '/v1/session', 404, 'not_at_edge')
  await expectError(t, '/v1/keys', 404, 'not_at_edge', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"tracks":["song"]}' })
  t.equal(proxy.countPrefix('/v1/tracks/song/key'), 0)
  t.equal(proxy.count('/v1/session'), 0)
  t.equal(proxy.count('/v1/keys'), 0)
})

t.test('odd headers on a good chunk: a bad Range is a 416, an odd If-None-Match is ignored', async (t) => {
  await expectError(t, good, 416, 'invalid_range', { headers: { range: 'bytes=abc' } })
  await expectError(t, good, 416, 'invalid_range', { headers: { range: 'items=0-1' } })
  const odd = await edge.get(good, { headers: { 'if-none-match': '"a", W/"b", junk' } })
  t.equal(odd.status, 200)
  await odd.arrayBuffer()
})

t.test('nothing made the Worker throw', async (t) => {
  const s = await edge.stats()
  t.equal(s.errors['500'], undefined)
  t.ok((s.errors['400'] ?? 0) >= 15)
})
