import { chunkCounter } from './chunk.js'
import { canonicalJson } from './canonical.js'
import { ProtocolError } from './errors.js'
import { fromBase64Url, toArrayBuffer, toBase64Url, toHex, utf8 } from './encoding.js'
import { type Manifest, type SignedManifest, parseManifest } from './manifest.js'

/**
 * WebCrypto only, so the same code verifies in Node 20, browsers and Workers. Node's own
 * crypto is faster for bulk work and the origin uses it for ingest; what it writes must verify
 * here byte for byte.
 */
const subtle = crypto.subtle

export async function sha256(bytes: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>))
}

export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  return toHex(await sha256(bytes))
}

/** keyId of a raw Ed25519 public key: hex of the first 8 bytes of its SHA-256. */
export async function publicKeyId(rawPublicKey: Uint8Array): Promise<string> {
  return toHex((await sha256(rawPublicKey)).subarray(0, 8))
}

export interface ManifestVerifier {
  keyId: string
  key: CryptoKey
}

/** Imports the origin's public key (raw 32 bytes, base64url), as configured on edges and players. */
export async function importManifestPublicKey(publicKeyB64: string): Promise<ManifestVerifier> {
  let raw: Uint8Array
  try {
    raw = fromBase64Url(publicKeyB64.trim())
  } catch {
    throw new ProtocolError('bad_request', 'the origin public key must be base64url')
  }
  if (raw.length !== 32) throw new ProtocolError('bad_request', 'the origin public key must be 32 raw Ed25519 bytes')
  const key = await subtle.importKey('raw', toArrayBuffer(raw), { name: 'Ed25519' }, false, ['verify'])
  return { key, keyId: await publicKeyId(raw) }
}

export async function signManifest(manifest: Manifest, privateKey: CryptoKey, keyId: string): Promise<SignedManifest> {
  const bytes = utf8.encode(canonicalJson(manifest))
  const signature = new Uint8Array(await subtle.sign({ name: 'Ed25519' }, privateKey, toArrayBuffer(bytes)))
  return { manifest, alg: 'Ed25519', keyId, signature: toBase64Url(signature) }
}

/**
 * Checks an untrusted signed-manifest document: its shape, then the signature over the
 * canonical JSON of the manifest as parsed. Returns the manifest only if both hold.
 */
export async function verifySignedManifest(value: unknown, verifier: ManifestVerifier): Promise<Manifest> {
  if (typeof value !== 'object' || value === null) throw new ProtocolError('invalid_manifest', 'invalid manifest: not an object')
  const doc = value as Partial<Record<keyof SignedManifest, unknown>>
  if (doc.alg !== 'Ed25519' || typeof doc.signature !== 'string') {
    throw new ProtocolError('invalid_signature', 'manifest signature missing or not Ed25519')
  }
  if (doc.keyId !== verifier.keyId) throw new ProtocolError('invalid_signature', `manifest signed by unknown key ${String(doc.keyId)}`)
  const manifest = parseManifest(doc.manifest)
  let signature: Uint8Array
  try {
    signature = fromBase64Url(doc.signature)
  } catch {
    throw new ProtocolError('invalid_signature', 'manifest signature is not base64url')
  }
  const bytes = utf8.encode(canonicalJson(manifest))
  const ok = signature.length === 64 && (await subtle.verify({ name: 'Ed25519' }, verifier.key, toArrayBuffer(signature), toArrayBuffer(bytes)))
  if (!ok) throw new ProtocolError('invalid_signature', 'manifest signature does not verify')
  return manifest
}

/** True when `chunk` is exactly the encrypted chunk the manifest names. */
export async function chunkMatches(chunk: Uint8Array, expectedHashHex: string): Promise<boolean> {
  return (await sha256Hex(chunk)) === expectedHashHex
}

export async function importTrackKey(keyB64: string): Promise<CryptoKey> {
  const raw = fromBase64Url(keyB64)
  if (raw.length !== 16) throw new ProtocolError('bad_request', 'a track key is 16 bytes (AES-128)')
  return subtle.importKey('raw', toArrayBuffer(raw), { name: 'AES-CTR' }, false, ['decrypt', 'encrypt'])
}

/** Decrypts one chunk on its own (AES-128-CTR, counter from the chunk's byte offset). */
export async function decryptChunk(key: CryptoKey, nonceHex: string, index: number, chunkSize: number, data: Uint8Array): Promise<Uint8Array> {
  const counter = chunkCounter(nonceHex, index, chunkSize)
  const plain = await subtle.decrypt({ name: 'AES-CTR', counter: toArrayBuffer(counter), length: 64 }, key, toArrayBuffer(data))
  return new Uint8Array(plain)
}
