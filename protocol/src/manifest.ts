import { isChunkSize } from './chunk.js'
import { ProtocolError } from './errors.js'
import { isBitrate, isTrackId, isVersion } from './ids.js'

export const MANIFEST_SCHEMA = 'chorus.manifest/1'

/** One encoding of a track: its bytes are cut into fixed-size chunks, each encrypted and hashed. */
export interface QualityManifest {
  /** kbit/s; also the quality's name in URLs. */
  bitrate: number
  codec: 'mp3'
  mime: 'audio/mpeg'
  sampleRate: number
  channels: number
  /** Length of the (encrypted = plain) byte string. */
  byteLength: number
  chunkSize: number
  chunkCount: number
  /** 8-byte AES-CTR nonce, hex: see chunkCounter(). */
  nonce: string
  /** SHA-256 of every encrypted chunk, hex, in order. */
  hashes: string[]
  /** The seek table: seek[i] is the audio time (ms) at which chunk i starts. */
  seek: number[]
}

export interface Manifest {
  schema: typeof MANIFEST_SCHEMA
  trackId: string
  version: string
  title: string
  artist: string
  album: string
  durationMs: number
  createdAt: string
  /** Sorted by bitrate, lowest first. */
  qualities: QualityManifest[]
}

/** What the origin serves and every cache keeps: the manifest and the origin's signature over its canonical JSON. */
export interface SignedManifest {
  manifest: Manifest
  alg: 'Ed25519'
  /** Hex of the first 8 bytes of SHA-256 of the raw public key: tells which key signed. */
  keyId: string
  /** base64url Ed25519 signature of canonicalJson(manifest). */
  signature: string
}

type Check = (ok: boolean, what: string) => void

function checker(): Check {
  return (ok, what) => {
    if (!ok) throw new ProtocolError('invalid_manifest', `invalid manifest: ${what}`)
  }
}

const HASH = /^[0-9a-f]{64}$/
const NONCE = /^[0-9a-f]{16}$/
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)
const isNat = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0
const isText = (v: unknown, max: number): v is string => typeof v === 'string' && v.length <= max

function parseQuality(q: unknown, at: string, check: Check): QualityManifest {
  check(isObject(q), `${at} is not an object`)
  const o = q as Record<string, unknown>
  check(isBitrate(o.bitrate), `${at}.bitrate`)
  check(o.codec === 'mp3' && o.mime === 'audio/mpeg', `${at}.codec/mime`)
  check(isNat(o.sampleRate) && (o.sampleRate as number) > 0, `${at}.sampleRate`)
  check(o.channels === 1 || o.channels === 2, `${at}.channels`)
  check(isNat(o.byteLength) && (o.byteLength as number) > 0, `${at}.byteLength`)
  check(isChunkSize(o.chunkSize), `${at}.chunkSize must be a multiple of 16 between 1 KiB and 4 MiB`)
  const byteLength = o.byteLength as number
  const chunkSize = o.chunkSize as number
  const chunkCount = Math.ceil(byteLength / chunkSize)
  check(o.chunkCount === chunkCount, `${at}.chunkCount must be ceil(byteLength / chunkSize)`)
  check(typeof o.nonce === 'string' && NONCE.test(o.nonce), `${at}.nonce`)
  check(Array.isArray(o.hashes) && o.hashes.length === chunkCount, `${at}.hashes must have chunkCount entries`)
  for (const h of o.hashes as unknown[]) check(typeof h === 'string' && HASH.test(h), `${at}.hashes holds a non-hash`)
  check(Array.isArray(o.seek) && o.seek.length === chunkCount, `${at}.seek must have chunkCount entries`)
  let last = 0
  for (const t of o.seek as unknown[]) {
    check(isNat(t) && (t as number) >= last, `${at}.seek must be non-decreasing whole milliseconds`)
    last = t as number
  }
  return {
    bitrate: o.bitrate as number,
    codec: 'mp3',
    mime: 'audio/mpeg',
    sampleRate: o.sampleRate as number,
    channels: o.channels as number,
    byteLength,
    chunkSize,
    chunkCount,
    nonce: o.nonce as string,
    hashes: o.hashes as string[],
    seek: o.seek as number[],
  }
}

/** Validates untrusted JSON as a manifest. Every reader (edge, tracker, player) goes through here. */
export function parseManifest(value: unknown): Manifest {
  const check = checker()
  check(isObject(value), 'not an object')
  const o = value as Record<string, unknown>
  check(o.schema === MANIFEST_SCHEMA, `schema must be ${MANIFEST_SCHEMA}`)
  check(isTrackId(o.trackId), 'trackId')
  check(isVersion(o.version), 'version')
  check(isText(o.title, 500) && isText(o.artist, 500) && isText(o.album, 500), 'title/artist/album')
  check(isNat(o.durationMs), 'durationMs')
  check(isText(o.createdAt, 40), 'createdAt')
  check(Array.isArray(o.qualities) && o.qualities.length > 0 && o.qualities.length <= 8, 'qualities')
  const qualities = (o.qualities as unknown[]).map((q, i) => parseQuality(q, `qualities[${i}]`, check))
  for (let i = 1; i < qualities.length; i++) {
    check(qualities[i - 1]!.bitrate < qualities[i]!.bitrate, 'qualities must be sorted by bitrate, without repeats')
  }
  return {
    schema: MANIFEST_SCHEMA,
    trackId: o.trackId as string,
    version: o.version as string,
    title: o.title as string,
    artist: o.artist as string,
    album: o.album as string,
    durationMs: o.durationMs as number,
    createdAt: o.createdAt as string,
    qualities,
  }
}

export function findQuality(manifest: Manifest, bitrate: number): QualityManifest | undefined {
  return manifest.qualities.find((q) => q.bitrate === bitrate)
}

/** The chunk holding audio time `ms` in a quality (binary search of the seek table). */
export function chunkAtTime(quality: QualityManifest, ms: number): number {
  let lo = 0
  let hi = quality.chunkCount - 1
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1
    if (quality.seek[mid]! <= ms) lo = mid
    else hi = mid - 1
  }
  return lo
}
