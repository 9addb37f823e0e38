import { randomBytes } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { existsSync } from 'node:fs'
import t from 'tap'
import { fromBase64Url } from '../../protocol/index.js'
import { type WrappedTrackKey, importWrappingKey, unwrapTrackKey } from '../src/key-wrap.js'
import { makeWav, runChorus, tempDataDir } from '../../test-support/fixtures.js'
import { API_KEY, OPERATOR_TOKEN } from './helpers/start-origins.js'
import { expectError, ingestInto, startNodeOrigin, startWorkerOriginWith } from './helpers/index.js'

const session = async (url: string) =>
  ((await (await fetch(`${url}/v1/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ apiKey: API_KEY }) })).json()) as { token: string }).token

// The tests below share nothing (each its own Worker, data directory and state): side by side.
t.jobs = 4

t.test('the Worker key service: keys wrapped in a Durable Object, never in the bucket', async (t) => {
  const wrappingText = randomBytes(32).toString('base64url')
  const origin = await startWorkerOriginWith(t, { bindings: { KEY_WRAPPING_KEY: wrappingText } })
  const { version } = await ingestInto(origin, 'song')
  const token = await session(origin.url)
  const { key } = (await (await fetch(`${origin.url}/v1/tracks/song/key?version=${version}`, { headers: { authorization: `Bearer ${token}` } })).json()) as { key: string }
  const keyBytes = Buffer.from(fromBase64Url(key))

  await t.test('no object in the bucket holds the key, as bytes or as text', async (t) => {
    const listed = await origin.bucket.list({ prefix: '' })
    t.ok(listed.objects.length >= 4, 'masters, manifest and the index are there')
    for (const o of listed.objects) {
      const bytes = Buffer.from(await (await origin.bucket.get(o.key))!.arrayBuffer())
      t.notOk(bytes.includes(keyBytes) || bytes.includes(Buffer.from(key)), `${o.key} holds no key`)
    }
  })

  await t.test('the vault holds it wrapped, bound to its track and version', async (t) => {
    const ns = await origin.mf.getDurableObjectNamespace('KEYS')
    const res = await ns.get(ns.idFromName('track:song')).fetch(`https://vault/${version}`)
    t.equal(res.status, 200)
    const record = (await res.json()) as WrappedTrackKey
    t.notOk(JSON.stringify(record).includes(key), 'the record does not hold the key in clear')
    t.notOk(Buffer.from(fromBase64Url(record.ct)).includes(keyBytes))
    t.equal(await unwrapTrackKey(await importWrappingKey(wrappingText), 'song', version, record), key, 'the Worker secret unwraps it')
    await t.rejects(unwrapTrackKey(await importWrappingKey(randomBytes(32).toString('base64url')), 'song', version, record), 'another secret does not')
    await t.rejects(unwrapTrackKey(await importWrappingKey(wrappingText), 'other', version, record), 'nor does the record under another name')
  })

  await t.test('key uploads: operator only, validated, write-once', async (t) => {
    const put = (path: string, body: unknown, auth: string | undefined = OPERATOR_TOKEN) =>
      fetch(`${origin.url}${path}`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json', ...(auth && { authorization: `Bearer ${auth}` }) },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      })
    const other = randomBytes(16).toString('base64url')
    const fresh = 'zzzz0000'
    const json = { 'content-type': 'application/json' }
    await expectError(t, `${origin.url}/v1/admin/track-keys/song/${fresh}`, 401, 'unauthorized', { method: 'PUT', headers: json, body: JSON.stringify({ key: other }) })
    await expectError(t, `${origin.url}/v1/admin/track-keys/song/${fresh}`, 401, 'unauthorized', {
      method: 'PUT',
      headers: { ...json, authorization: 'Bearer wrong' },
      body: JSON.stringify({ key: other }),
    })
    const op = { ...json, authorization: `Bearer ${OPERATOR_TOKEN}` }
    await expectError(t, `${origin.url}/v1/admin/track-keys/Bad!/${fresh}`, 400, 'invalid_id', { method: 'PUT', headers: op, body: JSON.stringify({ key: other }) })
    await expectError(t, `${origin.url}/v1/admin/track-keys/song/..%2fx`, 400, 'invalid_id', { method: 'PUT', headers: op, body: JSON.stringify({ key: other }) })
    await expectError(t, `${origin.url}/v1/admin/track-keys/song/${fresh}`, 400, 'bad_request', { method: 'PUT', headers: op, body: '{nope' })
    await expectError(t, `${origin.url}/v1/admin/track-keys/song/${fresh}`, 400, 'bad_request', { method: 'PUT', headers: op, body: JSON.stringify({ key: 'short' }) })
    await expectError(t, `${origin.url}/v1/admin/track-keys/song/${fresh}`, 413, 'payload_too_large', { method: 'PUT', headers: op, body: JSON.stringify({ key: other, pad: 'x'.repeat(5000) }) })
    await expectError(t, `${origin.url}/v1/admin/track-keys/song/${fresh}`, 405, 'method_not_allowed')
    t.equal((await put(`/v1/admin/track-keys/song/${fresh}`, { key: other })).status, 201)
    t.equal((await put(`/v1/admin/track-keys/song/${fresh}`, { key: other })).status, 201, 'the same key again: a retried upload succeeds')
    await expectError(t, `${origin.url}/v1/admin/track-keys/song/${version}`, 403, 'forbidden', { method: 'PUT', headers: op, body: JSON.stringify({ key: other }) })
    const still = (await (await fetch(`${origin.url}/v1/tracks/song/key?version=${version}`, { headers: { authorization: `Bearer ${token}` } })).json()) as { key: string }
    t.equal(still.key, key, 'a published version keeps its key')
  })

  await t.test('the vault without its wrapping secret: every request a 500 config_invalid naming it', async (t) => {
    const broken = await startWorkerOriginWith(t, { bindings: { KEY_WRAPPING_KEY: '' } })
    await expectError(t, `${broken.url}/v1/tracks`, 500, 'config_invalid')
    const body = (await (await fetch(`${broken.url}/healthz`)).json()) as { error: { message: string } }
    t.match(body.error.message, /KEY_WRAPPING_KEY/)
  })
})

t.test('the directory origin takes no key uploads', async (t) => {
  const origin = await startNodeOrigin(t)
  await expectError(t, `${origin.url}/v1/admin/track-keys/song/zzzz0000`, 404, 'not_found', { method: 'PUT', headers: { authorization: `Bearer ${OPERATOR_TOKEN}` }, body: '{}' })
})

t.test('chorus ingest --to r2:// --key-service hands each key to the Worker, none to the disk', async (t) => {
  const origin = await startWorkerOriginWith(t)
  const dir = await tempDataDir(t, 'chorus-key-service-cli')
  const dataDir = join(dir, 'data')
  const wav = join(dir, 'song.wav')
  await writeFile(wav, makeWav(2))
  // The run with a wrong token has a data directory and a bucket of its own, so the two run side by side.
  const [run, refused] = await Promise.all([
    runChorus(['ingest', '--data', dataDir, '--to', 'r2://chorus-masters', '--persist', join(dir, 'state'), '--key-service', origin.url, '--bitrates', '96', '--id', 'song', '--json', wav], {
      env: { CHORUS_OPERATOR_TOKEN: OPERATOR_TOKEN },
    }),
    runChorus(
      ['ingest', '--data', join(dir, 'data-refused'), '--to', 'r2://chorus-masters', '--persist', join(dir, 'state-refused'), '--key-service', origin.url, '--bitrates', '96', '--id', 'song', wav],
      {
        env: { CHORUS_OPERATOR_TOKEN: 'wrong' },
      },
    ),
  ])
  t.equal(run.code, 0, run.stderr)
  const { version } = (JSON.parse(run.stdout) as { tracks: Array<{ version: string }> }).tracks[0]!
  const res = await fetch(`${origin.url}/v1/tracks/song/key?version=${version}`, { headers: { authorization: `Bearer ${await session(origin.url)}` } })
  t.equal(res.status, 200, 'the Worker has the key')
  await res.arrayBuffer()
  t.notOk(existsSync(join(dataDir, 'track-keys')), 'no key was written to the disk')
  t.equal(refused.code, 1, 'a wrong operator token fails the ingest')
  t.match(refused.stderr, /refused the key/)
})

t.test('the Worker takes API key grants in config.json form: scopes, tracks, subjects', async (t) => {
  const config = {
    apiKeys: { 'backend-key': { name: 'backend', subjects: true }, 'narrow-key': { name: 'narrow', scope: ['play'], tracks: ['song'] }, 'typo-key': { name: 'typo', scope: 'announce' } },
  }
  const origin = await startWorkerOriginWith(t, { bindings: { CHORUS_API_KEYS_CONFIG: JSON.stringify(config) } })
  const post = (body: unknown) => fetch(`${origin.url}/v1/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  const sub = (token: string) => JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()).sub as string
  const named = (await (await post({ apiKey: 'backend-key', subject: 'user-42' })).json()) as { token: string }
  t.equal(sub(named.token), 'backend:user-42', 'a backend key names its users')
  await expectError(t, `${origin.url}/v1/session`, 403, 'forbidden', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ apiKey: API_KEY, subject: 'victim' }) })
  const narrow = (await (await post({ apiKey: 'narrow-key' })).json()) as { scope: string[]; tracks: string[] }
  t.same([narrow.scope, narrow.tracks], [['play'], ['song']], 'scope and tracks as granted')
  await expectError(t, `${origin.url}/v1/session`, 403, 'forbidden', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ apiKey: 'narrow-key', scope: ['announce'] }),
  })
  const typo = (await (await post({ apiKey: 'typo-key' })).json()) as { scope: string[] }
  t.same(typo.scope, [], 'a malformed scope grants nothing, never the default')
  const broken = await startWorkerOriginWith(t, { bindings: { CHORUS_API_KEYS_CONFIG: '{nope' } })
  await expectError(t, `${broken.url}/v1/tracks`, 500, 'config_invalid')
})
