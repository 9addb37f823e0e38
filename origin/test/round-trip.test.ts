import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import {
  type Manifest,
  chunkMatches,
  decryptChunk,
  importManifestPublicKey,
  importTrackKey,
  verifySignedManifest,
} from '../../protocol/index.js'
import { encodeMp3 } from '../src/audio/encode.js'
import { parseWav } from '../src/audio/wav.js'
import { ingestFile } from '../src/ingest.js'
import { loadOriginKeys } from '../src/keys.js'
import { startOrigin } from '../src/server.js'
import { makeWav, tempDataDir } from './fixtures.js'

const API_KEY = 'round-trip-key'

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

  // The encoder is deterministic, so encoding the same PCM here gives the bytes the origin encrypted.
  const expected = await encodeMp3(parseWav(wav), [96, 160, 320])
  for (const bitrate of [96, 160, 320]) {
    const { manifest, plain } = await download(base, 'test-song', bitrate, session.body.token)
    t.equal(manifest.durationMs, 6000)
    t.ok(plain.equals(Buffer.from(expected.get(bitrate)!)), `${bitrate} kbit/s decrypts to the encoded audio`)
  }
})

t.test('an MP3 is kept at its own bitrate, byte for byte', async (t) => {
  const dataDir = await tempDataDir(t)
  const mp3 = (await encodeMp3(parseWav(makeWav(4)), [128])).get(128)!
  const path = join(dataDir, 'clip.mp3')
  await writeFile(path, mp3)
  const keys = await loadOriginKeys(dataDir)
  const result = await ingestFile(path, { trackId: 'clip', title: 'Clip' }, { dataDir, keys })
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
