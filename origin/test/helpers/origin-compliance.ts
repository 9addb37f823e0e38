// The origin compliance suite: what an edge (or a player in development) may rely on from any
// Chorus origin, checked over real HTTP. Run against the Node origin over a directory and the
// origin Worker over R2 (origin-compliance-*.test.ts): both must pass it unchanged.

import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Test } from 'tap'
import {
  HEAD_MIME,
  type Manifest,
  type SignedManifest,
  chunkMatches,
  chunkPath,
  decodeHead,
  decryptChunk,
  headChunkCount,
  importManifestPublicKey,
  importTrackKey,
  verifySignedManifest,
} from '../../../protocol/index.js'
import { ingestFile } from '../../src/ingest.js'
import { makeWav } from '../../../test-support/fixtures.js'
import { API_KEY, OPERATOR_TOKEN, type StartOrigin, type StartedOrigin } from './start-origins.js'

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Polls until `check` holds: a publish shows after the origin's refresh interval (1 s by default). */
export async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(50)
  }
}

/** Ingests a few seconds of WAV through the origin's own publisher: small chunks, so there are several. */
export async function ingestInto(origin: StartedOrigin, trackId: string, seconds = 3) {
  const wav = join(origin.dataDir, `${trackId}.wav`)
  await writeFile(wav, makeWav(seconds))
  return ingestFile(wav, { trackId, title: `Title of ${trackId}` }, { dataDir: origin.dataDir, keys: origin.keys, publisher: origin.publisher, bitrates: [96, 160], chunkSize: 4096, workers: 1 })
}

export async function expectError(t: Test, url: string, status: number, code: string | RegExp, init?: RequestInit): Promise<void> {
  const res = await fetch(url, init)
  t.equal(res.status, status, `${init?.method ?? 'GET'} ${new URL(url).pathname} -> ${status}`)
  t.match(res.headers.get('content-type'), /application\/json/)
  const body = (await res.json()) as { error: { code: string; message: string } }
  t.match(body.error.code, code)
  t.type(body.error.message, 'string')
}

export function originCompliance(t: Test, start: StartOrigin): void {
  t.test('the catalog, manifests and chunks as an edge sees them', async (t) => {
    const origin = await start(t)
    const u = (p: string) => `${origin.url}${p}`

    await t.test('an empty origin: an empty catalog, 404s in JSON', async (t) => {
      const res = await fetch(u('/v1/tracks'))
      t.equal(res.status, 200)
      t.same(await res.json(), { tracks: [] })
      t.equal(res.headers.get('cache-control'), 'public, max-age=10')
      t.equal(res.headers.get('access-control-allow-origin'), '*')
      await expectError(t, u('/v1/tracks/song/manifest'), 404, 'track_not_found')
    })

    const first = await ingestInto(origin, 'song')
    await until(async () => ((await (await fetch(u('/v1/tracks'))).json()) as { tracks: unknown[] }).tracks.length === 1, 'the track in the catalog')
    const publicKey = ((await (await fetch(u('/v1/origin-key'))).json()) as { publicKey: string; keyId: string }).publicKey
    t.equal(publicKey, origin.keys.publicKey, '/v1/origin-key names the key that signed the manifests')
    const verifier = await importManifestPublicKey(publicKey)
    let manifest!: Manifest

    await t.test('catalog: one line per track, its current version', async (t) => {
      const { tracks } = (await (await fetch(u('/v1/tracks'))).json()) as { tracks: Array<Record<string, unknown>> }
      t.match(tracks, [{ trackId: 'song', version: first.version, title: 'Title of song', artist: 'Unknown artist', album: '', durationMs: first.durationMs, bitrates: [96, 160] }])
      t.type(tracks[0]!.createdAt, 'string')
    })

    await t.test('manifest: signed, short max-age, ETag and 304; a pinned version is immutable', async (t) => {
      const res = await fetch(u('/v1/tracks/song/manifest'))
      t.equal(res.status, 200)
      t.match(res.headers.get('content-type'), /application\/json/)
      t.equal(res.headers.get('cache-control'), 'public, max-age=10')
      const etag = res.headers.get('etag')!
      t.match(etag, /^"[^"]+"$/)
      const text = await res.text()
      manifest = await verifySignedManifest(JSON.parse(text) as SignedManifest, verifier)
      t.equal(manifest.version, first.version)
      const again = await fetch(u('/v1/tracks/song/manifest'), { headers: { 'if-none-match': etag } })
      t.equal(again.status, 304)
      t.equal(again.headers.get('etag'), etag)
      t.equal((await again.arrayBuffer()).byteLength, 0)
      const pinned = await fetch(u(`/v1/tracks/song/versions/${first.version}/manifest`))
      t.equal(pinned.status, 200)
      t.match(pinned.headers.get('cache-control'), /immutable/)
      t.equal(await pinned.text(), text, 'the pinned manifest is the same bytes')
      await expectError(t, u('/v1/tracks/song/versions/zzzz9999/manifest'), 404, 'version_not_found')
    })

    await t.test('chunks: every chunk verifies; ETag from the hash; immutable; HEAD, Range, 304, 416', async (t) => {
      for (const q of manifest.qualities) {
        for (let index = 0; index < q.chunkCount; index++) {
          const res = await fetch(u(chunkPath({ trackId: 'song', version: manifest.version, bitrate: q.bitrate, index })))
          const body = new Uint8Array(await res.arrayBuffer())
          if (res.status !== 200 || !(await chunkMatches(body, q.hashes[index]!)) || res.headers.get('etag') !== `"${q.hashes[index]}"`) {
            t.fail(`chunk ${q.bitrate}/${index}: ${res.status}`)
          }
        }
      }
      const q = manifest.qualities[0]!
      const path = u(chunkPath({ trackId: 'song', version: manifest.version, bitrate: q.bitrate, index: 1 }))
      const res = await fetch(path)
      const body = new Uint8Array(await res.arrayBuffer())
      t.equal(res.headers.get('cache-control'), 'public, max-age=31536000, immutable')
      t.equal(res.headers.get('content-type'), 'application/octet-stream')
      t.equal(res.headers.get('accept-ranges'), 'bytes')
      t.equal(res.headers.get('content-length'), String(body.length))
      t.equal(res.headers.get('access-control-allow-origin'), '*')
      t.match(res.headers.get('access-control-expose-headers'), /etag/)

      const head = await fetch(path, { method: 'HEAD' })
      t.equal(head.status, 200)
      t.equal(head.headers.get('content-length'), String(body.length))
      t.equal(head.headers.get('etag'), res.headers.get('etag'))
      t.equal((await head.arrayBuffer()).byteLength, 0)

      const part = await fetch(path, { headers: { range: 'bytes=10-19' } })
      t.equal(part.status, 206)
      t.equal(part.headers.get('content-range'), `bytes 10-19/${body.length}`)
      t.same(new Uint8Array(await part.arrayBuffer()), body.subarray(10, 20))
      const suffix = await fetch(path, { headers: { range: 'bytes=-5' } })
      t.equal(suffix.status, 206)
      t.same(new Uint8Array(await suffix.arrayBuffer()), body.subarray(body.length - 5))
      const open = await fetch(path, { headers: { range: `bytes=${body.length - 3}-` } })
      t.equal(open.headers.get('content-range'), `bytes ${body.length - 3}-${body.length - 1}/${body.length}`)
      await open.arrayBuffer()

      const notModified = await fetch(path, { headers: { 'if-none-match': res.headers.get('etag')! } })
      t.equal(notModified.status, 304)
      t.equal(notModified.headers.get('etag'), res.headers.get('etag'))
      await notModified.arrayBuffer()
      const stale = await fetch(path, { headers: { 'if-none-match': '"other"' } })
      t.equal(stale.status, 200, 'another ETag gets the chunk')
      await stale.arrayBuffer()

      const unsatisfiable = await fetch(path, { headers: { range: `bytes=${body.length}-` } })
      t.equal(unsatisfiable.status, 416)
      t.equal(unsatisfiable.headers.get('content-range'), `bytes */${body.length}`)
      t.equal(((await unsatisfiable.json()) as { error: { code: string } }).error.code, 'invalid_range')
      await expectError(t, path, 416, 'invalid_range', { headers: { range: 'bytes=zz' } })
    })

    await t.test('keys: only to a play token for the key service, never cacheable; the key opens the chunks', async (t) => {
      const keyUrl = u('/v1/tracks/song/key')
      await expectError(t, keyUrl, 401, 'unauthorized')
      await expectError(t, keyUrl, 401, 'invalid_token', { headers: { authorization: 'Bearer nope' } })
      const session = (await (await fetch(u('/v1/session'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ apiKey: API_KEY }) })).json()) as {
        token: string
        tokens: { edge: string; tracker: string }
      }
      await expectError(t, keyUrl, 403, 'forbidden', { headers: { authorization: `Bearer ${session.tokens.edge}` } })
      const auth = { authorization: `Bearer ${session.token}` }
      const res = await fetch(keyUrl, { headers: auth })
      t.equal(res.status, 200)
      t.equal(res.headers.get('cache-control'), 'no-store, private')
      const body = (await res.json()) as { trackId: string; version: string; alg: string; key: string }
      t.match(body, { trackId: 'song', version: manifest.version, alg: 'AES-128-CTR' })
      const pinned = (await (await fetch(`${keyUrl}?version=${manifest.version}`, { headers: auth })).json()) as { key: string }
      t.equal(pinned.key, body.key)
      // The key opens the chunks: the first chunk of an MP4 quality decrypts to a fragment (moof).
      const q = manifest.qualities[0]!
      const chunk = new Uint8Array(await (await fetch(u(chunkPath({ trackId: 'song', version: manifest.version, bitrate: q.bitrate, index: 0 })))).arrayBuffer())
      const plain = await decryptChunk(await importTrackKey(body.key), q.nonce, 0, q.chunkSize, chunk)
      if (q.codec === 'aac') t.equal(new TextDecoder().decode(plain.subarray(4, 8)), 'moof', 'the first chunk decrypts to a moof box')
      else t.equal(plain[0], 0xff, 'the first chunk decrypts to an MP3 frame sync')
      await expectError(t, `${keyUrl}?version=zzzz9999`, 404, 'version_not_found', { headers: auth })
      await expectError(t, `${keyUrl}?version=../x`, 400, 'invalid_id', { headers: auth })
      await expectError(t, u('/v1/tracks/nope/key'), 404, 'track_not_found', { headers: auth })
    })

    await t.test('head: the current manifest and the first audio of one quality in one answer, as fresh as the manifest', async (t) => {
      const res = await fetch(u('/v1/tracks/song/head'))
      t.equal(res.status, 200)
      t.equal(res.headers.get('content-type'), HEAD_MIME)
      t.match(res.headers.get('cache-control'), /^public, max-age=\d+$/, 'cached like the current manifest')
      const head = decodeHead(new Uint8Array(await res.arrayBuffer()))
      const m = await verifySignedManifest(head.manifest, await importManifestPublicKey(origin.keys.publicKey))
      t.equal(m.version, manifest.version)
      t.equal(head.bitrate, manifest.qualities[Math.floor((manifest.qualities.length - 1) / 2)]!.bitrate, 'without a hint: the middle quality, as a player without a measurement picks')
      const q = m.qualities.find((x) => x.bitrate === head.bitrate)!
      t.equal(head.chunks.length, headChunkCount(q))
      for (const [i, c] of head.chunks.entries()) t.ok(await chunkMatches(c, q.hashes[i]!), `chunk ${i} matches the signed hash`)
      const hinted = decodeHead(new Uint8Array(await (await fetch(u('/v1/tracks/song/head?kbps=200'))).arrayBuffer()))
      t.equal(hinted.bitrate, 160, 'kbps=200: the highest quality at or under it')
      t.equal(decodeHead(new Uint8Array(await (await fetch(u('/v1/tracks/song/head?kbps=1'))).arrayBuffer())).bitrate, 96, 'none under it: the lowest')
      const etag = res.headers.get('etag')!
      t.equal((await fetch(u('/v1/tracks/song/head'), { headers: { 'if-none-match': etag } })).status, 304)
      await expectError(t, u('/v1/tracks/song/head?kbps=x'), 400, 'bad_request')
      await expectError(t, u('/v1/tracks/nope/head'), 404, 'track_not_found')
    })

    await t.test('a session that carries the keys asked for: one request, not two in a row; never cacheable', async (t) => {
      const ask = (body: unknown) => fetch(u('/v1/session'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
      const res = await ask({ apiKey: API_KEY, keys: ['song', 'nope', 'song'] })
      t.equal(res.status, 200)
      t.equal(res.headers.get('cache-control'), 'no-store')
      const body = (await res.json()) as { token: string; keys: Array<{ trackId: string; version?: string; key?: string; error?: { code: string } }> }
      t.equal(body.keys.length, 2, 'one entry per track asked for')
      const auth = { authorization: `Bearer ${body.token}` }
      const alone = (await (await fetch(u('/v1/tracks/song/key'), { headers: auth })).json()) as { key: string }
      t.match(body.keys[0], { trackId: 'song', version: manifest.version, alg: 'AES-128-CTR', key: alone.key }, 'the key GET .../key gives')
      t.match(body.keys[1], { trackId: 'nope', error: { code: 'track_not_found' } }, 'an unknown track: its error, and the session all the same')
      const narrow = (await (await ask({ apiKey: API_KEY, scope: ['announce'], keys: ['song'] })).json()) as typeof body
      t.match(narrow.keys[0], { trackId: 'song', error: { code: 'forbidden' } }, "no 'play' scope, no key")
      await expectError(t, u('/v1/session'), 400, 'bad_request', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ apiKey: API_KEY, keys: 'song' }) })
      await expectError(t, u('/v1/session'), 400, 'invalid_id', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ apiKey: API_KEY, keys: ['../x'] }) })
    })

    await t.test('many keys at once (POST /v1/keys): the keys GET .../key gives, each track refused on its own; never cacheable', async (t) => {
      const session = (await (await fetch(u('/v1/session'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ apiKey: API_KEY }) })).json()) as {
        token: string
        tokens: { edge: string }
      }
      const ask = (body: unknown, token = session.token) =>
        fetch(u('/v1/keys'), { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify(body) })
      const res = await ask({ tracks: ['song', 'nope', 'song'] })
      t.equal(res.status, 200)
      t.equal(res.headers.get('cache-control'), 'no-store, private')
      const body = (await res.json()) as { keys: Array<{ trackId: string; version?: string; key?: string; error?: { code: string } }> }
      t.equal(body.keys.length, 2, 'one entry per track asked for')
      const alone = (await (await fetch(u('/v1/tracks/song/key'), { headers: { authorization: `Bearer ${session.token}` } })).json()) as { key: string }
      t.match(body.keys[0], { trackId: 'song', version: manifest.version, alg: 'AES-128-CTR', key: alone.key }, 'the key GET .../key gives')
      t.match(body.keys[1], { trackId: 'nope', error: { code: 'track_not_found' } }, 'an unknown track: its error, the others all the same')
      const announceOnly = (await (
        await fetch(u('/v1/session'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ apiKey: API_KEY, scope: ['announce'] }) })
      ).json()) as { token: string }
      const narrow = (await (await ask({ tracks: ['song'] }, announceOnly.token)).json()) as typeof body
      t.match(narrow.keys[0], { trackId: 'song', error: { code: 'forbidden' } }, "no 'play' scope, no key")
      const post = (init: RequestInit) => ({ method: 'POST', ...init })
      await expectError(t, u('/v1/keys'), 401, 'unauthorized', post({ body: JSON.stringify({ tracks: ['song'] }) }))
      await expectError(t, u('/v1/keys'), 403, 'forbidden', post({ headers: { authorization: `Bearer ${session.tokens.edge}` }, body: JSON.stringify({ tracks: ['song'] }) }))
      const auth = { authorization: `Bearer ${session.token}` }
      await expectError(t, u('/v1/keys'), 400, 'bad_request', post({ headers: auth, body: 'not json' }))
      await expectError(t, u('/v1/keys'), 400, 'bad_request', post({ headers: auth, body: JSON.stringify({ tracks: [] }) }))
      await expectError(t, u('/v1/keys'), 400, 'bad_request', post({ headers: auth, body: JSON.stringify({ tracks: Array.from({ length: 65 }, (_, i) => `t${i}`) }) }))
      await expectError(t, u('/v1/keys'), 400, 'invalid_id', post({ headers: auth, body: JSON.stringify({ tracks: ['../x'] }) }))
      await expectError(t, u('/v1/keys'), 405, 'method_not_allowed')
    })

    await t.test('bad input: 4xx with a JSON error body, never a read outside the masters', async (t) => {
      const v = manifest.version
      await expectError(t, u('/v1/tracks/nope/manifest'), 404, 'track_not_found')
      await expectError(t, u('/v1/tracks/Bad!Id/manifest'), 400, 'invalid_id')
      await expectError(t, u('/v1/tracks/..%2F..%2Fkeys/manifest'), 400, 'invalid_id')
      await expectError(t, u('/v1/tracks/song/versions/..%2f..%2fkeys/manifest'), 400, 'invalid_id')
      await expectError(t, u('/v1/chunks/..%2F..%2Fkeys/token-secret'), 400, /invalid_/)
      await expectError(t, u('/v1/chunks/song/%2e%2e/96/0'), 400, /invalid_/)
      await expectError(t, u(`/v1/chunks/song/${v}/96/99999`), 404, 'chunk_not_found')
      await expectError(t, u(`/v1/chunks/song/${v}/320/0`), 404, 'chunk_not_found')
      await expectError(t, u(`/v1/chunks/song/${v}/96/00`), 400, 'invalid_path')
      await expectError(t, u(`/v1/chunks/song/${v}/096/0`), 400, 'invalid_path')
      await expectError(t, u('/v1/chunks/song/zzzz0000/96/0'), 404, 'chunk_not_found')
      await expectError(t, u('/v1/chunks/nope/zzzz0000/96/0'), 404, 'chunk_not_found')
      await expectError(t, u(`/v1/chunks/song/${v}/96/0`), 405, 'method_not_allowed', { method: 'DELETE' })
      await expectError(t, u('/v1/tracks'), 405, 'method_not_allowed', { method: 'PUT' })
      await expectError(t, u('/v1/session'), 405, 'method_not_allowed')
      await expectError(t, u('/nowhere'), 404, 'not_found')
      // The store's own objects are never reachable by their names.
      for (const p of ['/catalog.json', '/tracks/song/current', `/tracks/song/${v}/manifest.json`, '/keys/signing-key.json']) await expectError(t, u(p), 404, 'not_found')
    })

    await t.test('preflight, health, metrics for the operator only, sessions', async (t) => {
      const pre = await fetch(u('/v1/tracks'), { method: 'OPTIONS', headers: { origin: 'https://app.example', 'access-control-request-method': 'GET' } })
      t.equal(pre.status, 204)
      t.match(pre.headers.get('access-control-allow-methods'), /GET/)
      t.same(await (await fetch(u('/healthz'))).json(), { ok: true, tracks: 1, keyId: origin.keys.keyId })
      await expectError(t, u('/metrics'), 401, 'unauthorized')
      const metrics = await fetch(u('/metrics'), { headers: { authorization: `Bearer ${OPERATOR_TOKEN}` } })
      t.equal(metrics.status, 200)
      t.match(await metrics.text(), /chorus_origin_requests_total\{route="chunk",status="200"\} [1-9]/)
      await expectError(t, u('/v1/session'), 401, 'invalid_api_key', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"apiKey":"wrong"}' })
      const session = await fetch(u('/v1/session'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ apiKey: API_KEY }) })
      t.equal(session.status, 200)
      t.equal(session.headers.get('cache-control'), 'no-store')
      t.match(await session.json(), { tokens: { keys: String, edge: String, tracker: String }, scope: ['play', 'announce'] })
    })

    await t.test('a re-ingest makes a new version current; the old one keeps being served', async (t) => {
      const second = await ingestInto(origin, 'song', 2)
      t.not(second.version, first.version)
      await until(async () => ((await (await fetch(u('/v1/tracks/song/manifest'))).json()) as SignedManifest).manifest.version === second.version, 'the new version current')
      // The listing and the current pointer are each reread after the store's refresh interval,
      // not together: the listing may show the new version a refresh later than the manifest.
      const listing = async () => ((await (await fetch(u('/v1/tracks'))).json()) as { tracks: Array<{ trackId: string; version: string }> }).tracks
      await until(async () => (await listing()).some((e) => e.version === second.version), 'the new version listed')
      const tracks = await listing()
      t.same(
        tracks.map((e) => [e.trackId, e.version]),
        [['song', second.version]],
        'listed once, at its new version',
      )
      const old = await fetch(u(`/v1/tracks/song/versions/${first.version}/manifest`))
      t.equal(old.status, 200, 'the old version is still served')
      await old.arrayBuffer()
      const oldChunk = await fetch(u(chunkPath({ trackId: 'song', version: first.version, bitrate: 96, index: 0 })))
      t.equal(oldChunk.status, 200)
      t.ok(await chunkMatches(new Uint8Array(await oldChunk.arrayBuffer()), manifest.qualities[0]!.hashes[0]!), 'and its chunks')
    })
  })
}
