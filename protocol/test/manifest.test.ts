import { createCipheriv, generateKeyPairSync, randomBytes, createHash } from 'node:crypto'
import t from 'tap'
import {
  type Manifest,
  MANIFEST_SCHEMA,
  ProtocolError,
  canonicalJson,
  chunkAtTime,
  chunkCounter,
  decryptChunk,
  importManifestPublicKey,
  importTrackKey,
  parseManifest,
  publicKeyId,
  signManifest,
  toBase64Url,
  verifySignedManifest,
} from '../index.js'

async function keyPair() {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519')
  const raw = new Uint8Array(publicKey.export({ format: 'der', type: 'spki' }).subarray(-32))
  const pkcs8 = privateKey.export({ format: 'der', type: 'pkcs8' })
  const signer = await crypto.subtle.importKey('pkcs8', pkcs8, { name: 'Ed25519' }, false, ['sign'])
  return { raw, signer, keyId: await publicKeyId(raw) }
}

function sampleManifest(): Manifest {
  const hashes = [0, 1, 2].map((i) => createHash('sha256').update(String(i)).digest('hex'))
  return {
    schema: MANIFEST_SCHEMA,
    trackId: 'demo-01',
    version: 'abc123def',
    title: 'Title "quoted" é',
    artist: 'Artist',
    album: 'Album',
    durationMs: 3000,
    createdAt: '2026-11-21T00:00:00.000Z',
    qualities: [
      {
        bitrate: 96,
        codec: 'mp3',
        mime: 'audio/mpeg',
        sampleRate: 44100,
        channels: 2,
        byteLength: 2 * 1024 + 5,
        chunkSize: 1024,
        chunkCount: 3,
        nonce: '0011223344556677',
        hashes,
        seek: [0, 1000, 2000],
      },
    ],
  }
}

t.test('canonical JSON sorts keys and drops undefined', async (t) => {
  t.equal(canonicalJson({ b: 1, a: [true, null, 'x'], c: undefined }), '{"a":[true,null,"x"],"b":1}')
  t.equal(canonicalJson({ z: { y: 1, x: 2 } }), '{"z":{"x":2,"y":1}}')
  t.throws(() => canonicalJson({ a: Number.NaN }))
})

t.test('a signed manifest verifies with WebCrypto, and one flipped bit does not', async (t) => {
  const { raw, signer, keyId } = await keyPair()
  const verifier = await importManifestPublicKey(toBase64Url(raw))
  const signed = await signManifest(sampleManifest(), signer, keyId)
  // Through JSON text, as it travels.
  const wire = JSON.parse(JSON.stringify(signed))
  const m = await verifySignedManifest(wire, verifier)
  t.same(m, sampleManifest())

  const tampered = JSON.parse(JSON.stringify(signed))
  tampered.manifest.durationMs = 3001
  await t.rejects(verifySignedManifest(tampered, verifier), { code: 'invalid_signature' })

  const text = JSON.stringify(signed)
  // Flip one bit of one hash character: still a valid-looking manifest, the signature catches it.
  const at = text.indexOf(sampleManifest().qualities[0]!.hashes[1]!)
  const flipped = text.slice(0, at) + String.fromCharCode(text.charCodeAt(at) ^ 1) + text.slice(at + 1)
  await t.rejects(verifySignedManifest(JSON.parse(flipped), verifier), ProtocolError)

  const other = await keyPair()
  await t.rejects(verifySignedManifest(wire, await importManifestPublicKey(toBase64Url(other.raw))), { code: 'invalid_signature' })
})

t.test('parseManifest rejects inconsistent documents', async (t) => {
  const bad: Array<[string, (m: any) => void]> = [
    [
      'chunk count',
      (m) => {
        m.qualities[0].chunkCount = 4
      },
    ],
    [
      'hash count',
      (m) => {
        m.qualities[0].hashes.pop()
      },
    ],
    [
      'hash form',
      (m) => {
        m.qualities[0].hashes[0] = 'xyz'
      },
    ],
    [
      'chunk size',
      (m) => {
        m.qualities[0].chunkSize = 1000
      },
    ],
    [
      'seek order',
      (m) => {
        m.qualities[0].seek = [0, 2000, 1000]
      },
    ],
    [
      'track id',
      (m) => {
        m.trackId = '../etc'
      },
    ],
    [
      'schema',
      (m) => {
        m.schema = 'other'
      },
    ],
  ]
  for (const [what, mutate] of bad) {
    const m = JSON.parse(JSON.stringify(sampleManifest()))
    mutate(m)
    t.throws(() => parseManifest(m), { code: 'invalid_manifest' }, what)
  }
  t.throws(() => parseManifest('nope'), { code: 'invalid_manifest' })
})

t.test('seek table lookup', async (t) => {
  const q = sampleManifest().qualities[0]!
  t.equal(chunkAtTime(q, 0), 0)
  t.equal(chunkAtTime(q, 999), 0)
  t.equal(chunkAtTime(q, 1000), 1)
  t.equal(chunkAtTime(q, 99999), 2)
})

t.test('any chunk decrypts on its own with WebCrypto, matching node:crypto over the whole file', async (t) => {
  const key = randomBytes(16)
  const nonce = '0123456789abcdef'
  const chunkSize = 1024
  const plain = randomBytes(chunkSize * 5 + 77)
  const iv = chunkCounter(nonce, 0, chunkSize)
  const cipher = createCipheriv('aes-128-ctr', key, iv)
  const whole = Buffer.concat([cipher.update(plain), cipher.final()])
  const ck = await importTrackKey(toBase64Url(key))
  for (const index of [3, 0, 5]) {
    const enc = whole.subarray(index * chunkSize, (index + 1) * chunkSize)
    const dec = await decryptChunk(ck, nonce, index, chunkSize, enc)
    t.same(Buffer.from(dec), plain.subarray(index * chunkSize, (index + 1) * chunkSize), `chunk ${index}`)
  }
})
