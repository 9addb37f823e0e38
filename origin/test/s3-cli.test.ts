import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { type SignedManifest, chunkMatches, chunkPath, decryptChunk, importTrackKey } from '../../protocol/index.js'
import { startProcess } from '../../support/process.js'
import { CHORUS, makeWav, runChorus, tempDataDir } from '../../test-support/fixtures.js'
import { S3_ENV, startS3Server } from './helpers/s3-server.js'

// The command lines over S3, end to end: `chorus ingest --to s3://` publishes into a bucket on a
// real S3-compatible server (s3rver), and `chorus origin --masters s3://` serves it, keys and all.

const API_KEY = 's3-cli-api-key'

t.test('chorus ingest --to s3:// and chorus origin --masters s3://', async (t) => {
  const s3 = await startS3Server(t, ['masters'])
  const dir = await tempDataDir(t, 'chorus-s3-cli')
  const dataDir = join(dir, 'data')
  const wav = join(dir, 'a.wav')
  await writeFile(wav, makeWav(2))
  const ingest = await runChorus(['ingest', '--json', '--data', dataDir, '--to', s3.url('masters'), '--bitrates', '96', '--id', 'song', wav], { env: S3_ENV })
  t.equal(ingest.code, 0, ingest.stderr)
  const result = JSON.parse(ingest.stdout) as { ok: boolean; to: string; tracks: Array<{ trackId: string; version: string }> }
  t.match(result, { ok: true, to: 's3://masters', tracks: [{ trackId: 'song' }] })
  const { version } = result.tracks[0]!
  t.ok(await s3.bucket('masters').get(`tracks/song/${version}/manifest.json`), 'the manifest is in the bucket')
  t.equal(await s3.bucket('masters').get(`tracks/song/${version}/key`), null, 'the key is not')

  const origin = await startProcess({
    name: 'chorus origin',
    args: [CHORUS, 'origin', '--json', '--quiet', '--port', '0', '--data', dataDir, '--masters', s3.url('masters')],
    env: { ...process.env, ...S3_ENV, CHORUS_API_KEYS: API_KEY },
    ready: 'json-line',
    timeoutMs: 60_000,
  })
  t.teardown(() => origin.stop())
  const { url, tracks } = origin.readyValue as { url: string; tracks: number }
  t.equal(tracks, 1, 'the ready line counts the tracks in the bucket')
  t.match(await (await fetch(`${url}/v1/tracks`)).json(), { tracks: [{ trackId: 'song', version }] })
  const signed = (await (await fetch(`${url}/v1/tracks/song/manifest`)).json()) as SignedManifest
  const q = signed.manifest.qualities[0]!
  const session = (await (await fetch(`${url}/v1/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ apiKey: API_KEY }) })).json()) as {
    tokens: { keys: string }
  }
  const keyRes = await fetch(`${url}/v1/tracks/song/key`, { headers: { authorization: `Bearer ${session.tokens.keys}` } })
  t.equal(keyRes.status, 200, 'the key, from DATA/track-keys, to a valid token')
  const key = await importTrackKey(((await keyRes.json()) as { key: string }).key)
  for (let i = 0; i < q.chunkCount; i++) {
    const res = await fetch(`${url}${chunkPath({ trackId: 'song', version, bitrate: q.bitrate, index: i })}`)
    const bytes = new Uint8Array(await res.arrayBuffer())
    if (res.status !== 200 || !(await chunkMatches(bytes, q.hashes[i]!))) t.fail(`chunk ${i}`)
    if (i > 0) continue
    // The key from the directory opens the chunks from the bucket: the first is an MP4 fragment (or an MP3 frame).
    const plain = await decryptChunk(key, q.nonce, 0, q.chunkSize, bytes)
    if (q.codec === 'aac') t.equal(new TextDecoder().decode(plain.subarray(4, 8)), 'moof', 'the key opens the chunks')
    else t.equal(plain[0], 0xff, 'the key opens the chunks')
  }
})

t.test('bad s3:// targets are refused with a message, before any work', async (t) => {
  const s3 = await startS3Server(t, ['masters'])
  const dataDir = await tempDataDir(t, 'chorus-s3-cli-bad')
  const wav = join(dataDir, 'a.wav')
  await writeFile(wav, makeWav(1))
  const noKeys = await runChorus(['ingest', '--data', dataDir, '--to', s3.url('masters'), wav], { env: { AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '' } })
  t.equal(noKeys.code, 2, 'no credentials: a usage error')
  t.match(noKeys.stderr, /AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY/)
  const bad = await runChorus(['ingest', '--data', dataDir, '--to', 's3://masters?endpont=x', wav], { env: S3_ENV })
  t.equal(bad.code, 2)
  t.match(bad.stderr, /unknown parameter 'endpont'/)
  const persist = await runChorus(['ingest', '--data', dataDir, '--to', s3.url('masters'), '--persist', 'x', wav], { env: S3_ENV })
  t.equal(persist.code, 2)
  t.match(persist.stderr, /--persist goes with --to r2:/)
  const missing = await runChorus(['ingest', '--data', dataDir, '--to', s3.url('no-such-bucket'), wav], { env: S3_ENV })
  t.equal(missing.code, 1, 'a missing bucket: an error, no stack')
  t.match(missing.stderr, /no bucket no-such-bucket at http:\/\/127\.0\.0\.1:\d+/)
  t.notMatch(missing.stderr, /\n\s+at /)
  const origin = await runChorus(['origin', '--data', dataDir, '--port', '0', '--masters', s3.url('no-such-bucket')], { env: S3_ENV })
  t.equal(origin.code, 1, 'the origin will not start over a bucket that is not there')
  t.match(origin.stderr, /no bucket no-such-bucket/)
})
