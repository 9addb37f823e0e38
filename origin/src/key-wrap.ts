import { fromBase64Url, toArrayBuffer, toBase64Url, utf8 } from '../../protocol/index.js'

/**
 * Track keys wrapped for storage away from the origin's own disk: AES-256-GCM under a secret the
 * key service holds (a Worker secret), so the store that keeps them (a Durable Object) holds
 * nothing that opens a chunk. The track and version are the additional data: a record moved to
 * another name does not unwrap. Pure WebCrypto.
 */
export interface WrappedTrackKey {
  /** Format version of the record. */
  v: 1
  /** 12-byte GCM nonce, base64url; fresh for every wrap. */
  iv: string
  /** The key's bytes encrypted, with the GCM tag, base64url. */
  ct: string
}

const TRACK_KEY_BYTES = 16

/** The wrapping secret: 32 random bytes, base64url (KEY_WRAPPING_KEY). */
export async function importWrappingKey(text: string): Promise<CryptoKey> {
  let raw: Uint8Array
  try {
    raw = fromBase64Url(text.trim())
  } catch {
    raw = new Uint8Array(0)
  }
  if (raw.length !== 32) throw new Error('KEY_WRAPPING_KEY must be 32 random bytes in base64url (43 characters)')
  return crypto.subtle.importKey('raw', toArrayBuffer(raw), { name: 'AES-GCM' }, false, ['encrypt', 'decrypt'])
}

function additionalData(trackId: string, version: string): ArrayBuffer {
  return toArrayBuffer(utf8.encode(`chorus-track-key:${trackId}/${version}`))
}

export async function wrapTrackKey(wrapping: CryptoKey, trackId: string, version: string, keyB64: string): Promise<WrappedTrackKey> {
  const iv = crypto.getRandomValues(new Uint8Array(12))
  const ct = await crypto.subtle.encrypt({ name: 'AES-GCM', iv, additionalData: additionalData(trackId, version) }, wrapping, toArrayBuffer(fromBase64Url(keyB64)))
  return { v: 1, iv: toBase64Url(iv), ct: toBase64Url(new Uint8Array(ct)) }
}

/** The key, base64url; throws when the record was not wrapped for this name under this secret. */
export async function unwrapTrackKey(wrapping: CryptoKey, trackId: string, version: string, record: WrappedTrackKey): Promise<string> {
  const plain = await crypto.subtle.decrypt(
    { name: 'AES-GCM', iv: toArrayBuffer(fromBase64Url(record.iv)), additionalData: additionalData(trackId, version) },
    wrapping,
    toArrayBuffer(fromBase64Url(record.ct)),
  )
  return toBase64Url(new Uint8Array(plain))
}

/** A track key as ingest makes it: 16 bytes (AES-128), base64url. */
export function isTrackKeyText(value: unknown): value is string {
  if (typeof value !== 'string' || !/^[A-Za-z0-9_-]{22}$/.test(value)) return false
  try {
    return fromBase64Url(value).length === TRACK_KEY_BYTES
  } catch {
    return false
  }
}
