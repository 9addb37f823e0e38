import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { signToken } from '../../protocol/index.js'
import { ingestFile } from '../src/ingest.js'
import { loadOriginKeys } from '../src/keys.js'
import { startOrigin } from '../src/server.js'
import { makeWav, tempDataDir } from '../../test-support/fixtures.js'

const API_KEY = 'http-api-key'

t.test('the origin HTTP API: caching headers, conditional and range requests, keys, bad input', async (t) => {
  const dataDir = await tempDataDir(t)
  await writeFile(join(dataDir, 'song.wav'), makeWav(3))
  const keys = await loadOriginKeys(dataDir)
  const { version } = await ingestFile(join(dataDir, 'song.wav'), {}, { dataDir, keys, bitrates: [96, 160] })
  const OPERATOR = 'operator-secret-for-this-test'
  await writeFile(join(dataDir, 'config.json'), JSON.stringify({ apiKeys: { 'backend-key': { name: 'backend', subjects: true } } }))
  const origin = await startOrigin({ dataDir, env: { CHORUS_API_KEYS: API_KEY, CHORUS_OPERATOR_TOKEN: OPERATOR } })
  t.teardown(() => origin.close())
  const u = (p: string) => `${origin.url}${p}`
  const chunk = `/v1/chunks/song/${version}/96/0`

  async function expectError(t: Test, path: string, status: number, code: string | RegExp, init?: RequestInit) {
    const res = await fetch(u(path), init)
    t.equal(res.status, status, `${init?.method ?? 'GET'} ${path} -> ${status}`)
    t.match(res.headers.get('content-type'), /application\/json/)
    const body = (await res.json()) as { error: { code: string; message: string } }
    t.match(body.error.code, code)
    t.type(body.error.message, 'string')
  }

  await t.test('manifest: short max-age, ETag, 304', async (t) => {
    const res = await fetch(u('/v1/tracks/song/manifest'))
    t.equal(res.status, 200)
    t.match(res.headers.get('cache-control'), /max-age=10/)
    const etag = res.headers.get('etag')!
    t.ok(etag)
    const again = await fetch(u('/v1/tracks/song/manifest'), { headers: { 'if-none-match': etag } })
    t.equal(again.status, 304)
    const pinned = await fetch(u(`/v1/tracks/song/versions/${version}/manifest`))
    t.match(pinned.headers.get('cache-control'), /immutable/)
  })

  await t.test('chunks: immutable, ETag from the hash, HEAD, Range, 304', async (t) => {
    const res = await fetch(u(chunk))
    const body = new Uint8Array(await res.arrayBuffer())
    t.equal(res.status, 200)
    t.equal(res.headers.get('cache-control'), 'public, max-age=31536000, immutable')
    const manifest = (await (await fetch(u('/v1/tracks/song/manifest'))).json()) as any
    t.equal(res.headers.get('etag'), `"${manifest.manifest.qualities[0].hashes[0]}"`)
    t.equal(Number(res.headers.get('content-length')), body.length)

    const head = await fetch(u(chunk), { method: 'HEAD' })
    t.equal(head.status, 200)
    t.equal(head.headers.get('content-length'), String(body.length))
    t.equal((await head.arrayBuffer()).byteLength, 0)

    const part = await fetch(u(chunk), { headers: { range: 'bytes=10-19' } })
    t.equal(part.status, 206)
    t.equal(part.headers.get('content-range'), `bytes 10-19/${body.length}`)
    t.same(new Uint8Array(await part.arrayBuffer()), body.subarray(10, 20))
    const suffix = await fetch(u(chunk), { headers: { range: 'bytes=-5' } })
    t.same(new Uint8Array(await suffix.arrayBuffer()), body.subarray(body.length - 5))

    const notModified = await fetch(u(chunk), { headers: { 'if-none-match': res.headers.get('etag')! } })
    t.equal(notModified.status, 304)
    await expectError(t, chunk, 416, 'invalid_range', { headers: { range: `bytes=${body.length}-` } })
    await expectError(t, chunk, 416, 'invalid_range', { headers: { range: 'bytes=zz' } })
  })

  await t.test('sessions and keys: 401 without a token, 403 with the wrong scope, never cacheable', async (t) => {
    await expectError(t, '/v1/tracks/song/key', 401, 'unauthorized')
    await expectError(t, '/v1/tracks/song/key', 401, 'invalid_token', { headers: { authorization: 'Bearer nope' } })
    const announceOnly = await signToken({ sub: 'x', scope: ['announce'], aud: ['keys'] }, keys.tokenSigner)
    await expectError(t, '/v1/tracks/song/key', 403, 'forbidden', { headers: { authorization: `Bearer ${announceOnly}` } })
    const expired = await signToken({ sub: 'x', scope: ['play'], aud: ['keys'], ttlSec: 10 }, keys.tokenSigner, Date.now() - 60_000)
    await expectError(t, '/v1/tracks/song/key', 401, 'token_expired', { headers: { authorization: `Bearer ${expired}` } })

    await expectError(t, '/v1/session', 401, 'invalid_api_key', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"apiKey":"wrong"}' })
    await expectError(t, '/v1/session', 400, 'bad_request', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{not json' })
    await expectError(t, '/v1/session', 401, 'unauthorized', { method: 'POST' })
    await expectError(t, '/v1/session', 403, 'forbidden', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ apiKey: API_KEY, scope: ['purge'] }) })

    const session = (await (
      await fetch(u('/v1/session'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ apiKey: API_KEY, scope: ['play'] }) })
    ).json()) as any
    const res = await fetch(u('/v1/tracks/song/key'), { headers: { authorization: `Bearer ${session.token}` } })
    t.equal(res.status, 200)
    t.match(res.headers.get('cache-control'), /no-store/)
    const body = (await res.json()) as any
    t.equal(body.version, version)
    t.match(body.key, /^[A-Za-z0-9_-]{22}$/)
    await expectError(t, '/v1/tracks/song/key?version=zzzz9999', 404, 'version_not_found', { headers: { authorization: `Bearer ${session.token}` } })
    await expectError(t, '/v1/tracks/song/key?version=../x', 400, 'invalid_id', { headers: { authorization: `Bearer ${session.token}` } })

    // One token per service: the edge's and the tracker's are refused by the key service.
    t.equal(session.tokens.keys, session.token)
    await expectError(t, '/v1/tracks/song/key', 403, 'forbidden', { headers: { authorization: `Bearer ${session.tokens.edge}` } })
    await expectError(t, '/v1/tracks/song/key', 403, 'forbidden', { headers: { authorization: `Bearer ${session.tokens.tracker}` } })
    // A session narrowed to other tracks gets no key for this one.
    const narrow = (await (
      await fetch(u('/v1/session'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ apiKey: API_KEY, tracks: ['other-song'] }) })
    ).json()) as any
    t.same(narrow.tracks, ['other-song'])
    await expectError(t, '/v1/tracks/song/key', 403, 'forbidden', { headers: { authorization: `Bearer ${narrow.token}` } })
    await expectError(t, '/v1/session', 400, 'invalid_id', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ apiKey: API_KEY, tracks: ['../x'] }) })
  })

  await t.test('subjects: the origin picks them; a renewal keeps one; only a backend key names them', async (t) => {
    const sub = (token: string) => JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()).sub as string
    const post = (body: unknown) => fetch(u('/v1/session'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
    const a = (await (await post({ apiKey: API_KEY })).json()) as any
    const b = (await (await post({ apiKey: API_KEY })).json()) as any
    t.not(sub(a.token), sub(b.token), 'two sessions, two subjects')
    t.match(sub(a.token), /^env:[0-9a-f-]{36}$/, 'a random id under the grant')
    const renewed = (await (await post({ apiKey: API_KEY, renew: a.tokens.keys })).json()) as any
    t.equal(sub(renewed.tokens.tracker), sub(a.token), 'a renewal keeps the subject (the tracker binds peer ids to it)')
    // A listener cannot choose who it is (it would leave a ban by naming a new subject)...
    await expectError(t, '/v1/session', 403, 'forbidden', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ apiKey: API_KEY, subject: 'victim' }) })
    // ...nor renew with a token that is not a key-service token, or is forged.
    await expectError(t, '/v1/session', 403, 'forbidden', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ apiKey: API_KEY, renew: a.tokens.tracker }) })
    await expectError(t, '/v1/session', 401, 'invalid_token', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ apiKey: API_KEY, renew: `${a.token.slice(0, -4)}AAAA` }),
    })
    await expectError(t, '/v1/session', 400, 'bad_request', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ apiKey: API_KEY, renew: 42 }) })
    // A session of one API key does not renew under another.
    await expectError(t, '/v1/session', 403, 'forbidden', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ apiKey: 'backend-key', renew: a.tokens.keys }) })
    // An app's backend that signs its users in names them.
    const named = (await (await post({ apiKey: 'backend-key', subject: 'user-42' })).json()) as any
    t.equal(sub(named.token), 'backend:user-42')
    await expectError(t, '/v1/session', 400, 'bad_request', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ apiKey: 'backend-key', subject: '../x' }) })
  })

  await t.test('bad input: unknown, malformed, escaping paths, wrong methods', async (t) => {
    await expectError(t, '/v1/tracks/nope/manifest', 404, 'track_not_found')
    await expectError(t, '/v1/tracks/Bad!Id/manifest', 400, 'invalid_id')
    await expectError(t, '/v1/tracks/..%2F..%2Fkeys/manifest', 400, 'invalid_id')
    await expectError(t, '/v1/tracks/song/versions/..%2f..%2fkeys/manifest', 400, 'invalid_id')
    await expectError(t, '/v1/chunks/..%2F..%2Fkeys/token-secret', 400, /invalid_/)
    await expectError(t, '/v1/chunks/song/%2e%2e/96/0', 400, /invalid_/)
    await expectError(t, '/v1/chunks/song/..%2F..%2Fkeys/96/0', 400, /invalid_/)
    await expectError(t, `/v1/chunks/song/${version}/96/99999`, 404, 'chunk_not_found')
    await expectError(t, `/v1/chunks/song/${version}/320/0`, 404, 'chunk_not_found')
    await expectError(t, `/v1/chunks/song/${version}/96/00`, 400, 'invalid_path')
    await expectError(t, `/v1/chunks/song/zzzz0000/96/0`, 404, 'chunk_not_found')
    // The chunk is hot now: other spellings of its path miss the in-memory lookup and are judged
    // by the parser like any path.
    await expectError(t, `/v1/chunks/song/${version}/96/00`, 400, 'invalid_path')
    await expectError(t, `/v1/chunks/song/${version}/096/0`, 400, 'invalid_path')
    await expectError(t, `/v1/chunks/song/${version}/96/0/`, 400, 'invalid_path')
    await expectError(t, `/v1/chunks/song/${version}/96/999`, 404, 'chunk_not_found')
    const again = await fetch(u(chunk))
    t.equal(again.status, 200, 'the canonical path still serves the chunk')
    t.equal(again.headers.get('etag'), (await fetch(u(chunk), { method: 'HEAD' })).headers.get('etag'))
    await again.arrayBuffer()
    await expectError(t, chunk, 405, 'method_not_allowed', { method: 'DELETE' })
    await expectError(t, '/v1/tracks', 405, 'method_not_allowed', { method: 'PUT' })
    await expectError(t, '/nowhere', 404, 'not_found')
    // The data directory's own files are never reachable.
    for (const p of ['/keys/token-secret', '/config.json', '/tracks/song/current']) await expectError(t, p, 404, 'not_found')
  })

  await t.test('health and metrics', async (t) => {
    const health = (await (await fetch(u('/healthz'))).json()) as any
    t.same(health, { ok: true, tracks: 1, keyId: keys.keyId })
    await expectError(t, '/metrics', 401, 'unauthorized')
    await expectError(t, '/metrics', 401, 'unauthorized', { headers: { authorization: `Bearer ${OPERATOR.slice(0, -1)}x` } })
    const text = await (await fetch(u('/metrics'), { headers: { authorization: `Bearer ${OPERATOR}` } })).text()
    t.match(text, /chorus_origin_requests_total\{route="chunk",status="200"\} \d+/)
    t.match(text, /chorus_origin_requests_total\{route="manifest",status="404"\} \d+/)
    t.match(text, /chorus_origin_bytes_out_total\{route="chunk"\} [1-9]\d*/)
    t.match(text, /chorus_origin_request_duration_seconds_bucket\{le="\+Inf"\} [1-9]\d*/)
  })
})
