import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { type Manifest, chunkMatches, decryptChunk, importManifestPublicKey, importTrackKey, verifySignedManifest } from '../../protocol/index.js'
import { execFileSync, spawnSync } from 'node:child_process'
import { fromBase64Url } from '../../protocol/index.js'
import { encodeMp3 } from '../src/audio/encode.js'
import { findFfmpeg } from '../src/audio/ffmpeg.js'
import { parseWav } from '../src/audio/wav.js'
import { ingestFile } from '../src/ingest.js'
import { loadOriginKeys } from '../src/keys.js'
import { startOrigin } from '../src/server.js'
import { makeWav, tempDataDir } from '../../test-support/fixtures.js'

const API_KEY = 'round-trip-key'
const FFMPEG = (await findFfmpeg())!

/** ffmpeg decodes a file from stdin to 32-bit float stereo; throws on a decode error. */
function decodeF32(file: Uint8Array): Float32Array {
  const run = spawnSync(FFMPEG, ['-hide_banner', '-v', 'error', '-i', 'pipe:0', '-f', 'f32le', '-ac', '2', 'pipe:1'], { input: file, maxBuffer: 1 << 28 })
  if (run.status !== 0 || run.stderr.length) throw new Error(`ffmpeg: ${run.stderr}`)
  return new Float32Array(run.stdout.buffer, run.stdout.byteOffset, run.stdout.byteLength / 4)
}

/** What ffmpeg says while decoding a whole file (nothing, for a clean one). */
function ffmpegErrors(file: Uint8Array): string {
  const run = spawnSync(FFMPEG, ['-hide_banner', '-v', 'error', '-i', 'pipe:0', '-f', 'null', '-'], { input: file })
  return `${run.stderr}`.trim() || (run.status === 0 ? '' : `exit ${run.status}`)
}

async function getJson(url: string, init?: RequestInit): Promise<{ status: number; body: any; headers: Headers }> {
  const res = await fetch(url, init)
  return { status: res.status, body: await res.json(), headers: res.headers }
}

/** What a player does: manifest, signature, every chunk's hash, the key, decryption. */
async function download(base: string, trackId: string, bitrate: number, token: string) {
  const { body: keyInfo } = await getJson(`${base}/v1/origin-key`)
  const verifier = await importManifestPublicKey(keyInfo.publicKey)
  const manifestDoc = await getJson(`${base}/v1/tracks/${trackId}/manifest`)
  const manifest = await verifySignedManifest(manifestDoc.body, verifier)
  const q = manifest.qualities.find((x) => x.bitrate === bitrate)!
  const keyRes = await getJson(`${base}/v1/tracks/${trackId}/key?version=${manifest.version}`, { headers: { authorization: `Bearer ${token}` } })
  const key = await importTrackKey(keyRes.body.key)
  const parts: Uint8Array[] = []
  for (let i = 0; i < q.chunkCount; i++) {
    const res = await fetch(`${base}/v1/chunks/${trackId}/${manifest.version}/${bitrate}/${i}`)
    const enc = new Uint8Array(await res.arrayBuffer())
    if (!(await chunkMatches(enc, q.hashes[i]!))) throw new Error(`chunk ${i} does not match its hash`)
    parts.push(await decryptChunk(key, q.nonce, i, q.chunkSize, enc))
  }
  return { manifest, plain: Buffer.concat(parts) }
}

t.test('ingest a WAV, then fetch, verify, decrypt and compare over HTTP', async (t) => {
  const dataDir = await tempDataDir(t)
  const wavPath = join(dataDir, 'Test Song.wav')
  const wav = makeWav(6)
  await writeFile(wavPath, wav)
  const keys = await loadOriginKeys(dataDir)
  const result = await ingestFile(wavPath, { artist: 'Tester' }, { dataDir, keys, chunkSize: 8192 })
  t.equal(result.trackId, 'test-song')
  t.same(result.bitrates, [96, 160, 320])

  const origin = await startOrigin({ dataDir, env: { CHORUS_API_KEYS: API_KEY } })
  t.teardown(() => origin.close())
  const base = origin.url

  const catalog = await getJson(`${base}/v1/tracks`)
  t.equal(catalog.status, 200)
  t.match(catalog.body.tracks, [{ trackId: 'test-song', title: 'Test Song', artist: 'Tester', bitrates: [96, 160, 320] }])

  const session = await getJson(`${base}/v1/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ apiKey: API_KEY }) })
  t.equal(session.status, 200)
  t.equal(session.headers.get('cache-control'), 'no-store')

  // The origin kept what it encrypted: the master file on disk is the ciphertext of these bytes.
  for (const bitrate of [96, 160, 320]) {
    const { manifest, plain } = await download(base, 'test-song', bitrate, session.body.token)
    t.equal(manifest.durationMs, 6000)
    const q = manifest.qualities.find((x) => x.bitrate === bitrate)!
    t.equal(q.codec, 'aac', `${bitrate}: AAC in fragmented MP4`)
    if (q.codec !== 'aac') continue
    t.equal(q.samples, 6 * 44100, 'the real length in samples')
    const file = Buffer.concat([fromBase64Url(q.init), plain])
    const decoded = decodeF32(file)
    t.ok(
      decoded.length / 2 >= q.delay + q.samples && decoded.length / 2 < q.delay + q.samples + 2048,
      `${bitrate}: init + decrypted chunks decode to priming + the track + under a frame of padding (${decoded.length / 2})`,
    )
  }
})

t.test('FLAC, MP3 and WAV inputs all become fragmented MP4 that decodes cleanly', async (t) => {
  const dataDir = await tempDataDir(t)
  const keys = await loadOriginKeys(dataDir)
  const wavPath = join(dataDir, 'src.wav')
  await writeFile(wavPath, makeWav(5))
  const inputs = { wav: wavPath, flac: join(dataDir, 'src.flac'), mp3: join(dataDir, 'src.mp3') }
  execFileSync(FFMPEG, ['-hide_banner', '-loglevel', 'error', '-y', '-i', wavPath, inputs.flac])
  execFileSync(FFMPEG, ['-hide_banner', '-loglevel', 'error', '-y', '-i', wavPath, '-c:a', 'libmp3lame', '-b:a', '192k', inputs.mp3])
  for (const [kind, path] of Object.entries(inputs)) {
    const result = await ingestFile(path, { trackId: `in-${kind}` }, { dataDir, keys, chunkSize: 8192 })
    t.equal(result.codec, 'aac', `${kind}: encoded to AAC`)
    t.same(result.bitrates, [96, 160, 320], `${kind}: three qualities`)
    t.ok(Math.abs(result.durationMs - 5000) < 60, `${kind}: 5 s long (${result.durationMs} ms)`)
  }
  const origin = await startOrigin({ dataDir, env: { CHORUS_API_KEYS: API_KEY } })
  t.teardown(() => origin.close())
  const session = await getJson(`${origin.url}/v1/session`, { method: 'POST', headers: { 'x-api-key': API_KEY } })
  for (const kind of Object.keys(inputs)) {
    const { manifest, plain } = await download(origin.url, `in-${kind}`, 160, session.body.token)
    const q = manifest.qualities.find((x) => x.bitrate === 160)!
    if (q.codec !== 'aac') throw new Error('not AAC')
    const file = Buffer.concat([fromBase64Url(q.init), plain])
    const errors = ffmpegErrors(file)
    t.equal(errors, '', `${kind}: ffmpeg decodes init + chunks without an error`)
  }
})

t.test('without ffmpeg, an MP3 is kept at its own bitrate, byte for byte', async (t) => {
  const dataDir = await tempDataDir(t)
  const mp3 = (await encodeMp3(parseWav(makeWav(4)), [128])).get(128)!
  const path = join(dataDir, 'clip.mp3')
  await writeFile(path, mp3)
  const keys = await loadOriginKeys(dataDir)
  const result = await ingestFile(path, { trackId: 'clip', title: 'Clip' }, { dataDir, keys, ffmpeg: false })
  t.same(result.bitrates, [128])
  t.equal(result.encoded, false)
  const origin = await startOrigin({ dataDir, env: { CHORUS_API_KEYS: API_KEY } })
  t.teardown(() => origin.close())
  const session = await getJson(`${origin.url}/v1/session`, { method: 'POST', headers: { 'x-api-key': API_KEY } })
  const { plain } = await download(origin.url, 'clip', 128, session.body.token)
  t.ok(plain.equals(Buffer.from(mp3)), 'decrypted bytes equal the ingested file')
})

t.test('a flipped bit in a stored chunk or in the manifest is detected', async (t) => {
  const dataDir = await tempDataDir(t)
  const path = join(dataDir, 'flip.wav')
  await writeFile(path, makeWav(3))
  const keys = await loadOriginKeys(dataDir)
  const { version } = await ingestFile(path, {}, { dataDir, keys, bitrates: [96], chunkSize: 4096 })
  const versionDir = join(dataDir, 'tracks', 'flip', version)

  const master = await readFile(join(versionDir, '96.enc'))
  master[5000]! ^= 0x10
  await writeFile(join(versionDir, '96.enc'), master)
  const origin = await startOrigin({ dataDir })
  t.teardown(() => origin.close())
  const verifier = await importManifestPublicKey(keys.publicKey)
  const manifest: Manifest = await verifySignedManifest(await (await fetch(`${origin.url}/v1/tracks/flip/manifest`)).json(), verifier)
  const q = manifest.qualities[0]!
  const chunk1 = new Uint8Array(await (await fetch(`${origin.url}/v1/chunks/flip/${version}/96/1`)).arrayBuffer())
  t.notOk(await chunkMatches(chunk1, q.hashes[1]!), 'the chunk with the flipped bit fails its hash')
  const chunk0 = new Uint8Array(await (await fetch(`${origin.url}/v1/chunks/flip/${version}/96/0`)).arrayBuffer())
  t.ok(await chunkMatches(chunk0, q.hashes[0]!), 'its neighbour still verifies')

  const text = await readFile(join(versionDir, 'manifest.json'), 'utf8')
  const doc = JSON.parse(text)
  doc.manifest.qualities[0].hashes[2] = doc.manifest.qualities[0].hashes[2].replace(/^./, (c: string) => (c === '0' ? '1' : '0'))
  await t.rejects(verifySignedManifest(doc, verifier), { code: 'invalid_signature' })
})
