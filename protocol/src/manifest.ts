import { isChunkSize } from './chunk.js'
import { ProtocolError } from './errors.js'
import { isBitrate, isTrackId, isVersion } from './ids.js'

export const MANIFEST_SCHEMA = 'chorus.manifest/1'

/** What every quality has, whatever its container: bytes cut into fixed-size chunks, each encrypted and hashed. */
interface QualityCommon {
  /** kbit/s; also the quality's name in URLs. */
  bitrate: number
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
  /**
   * The per-chunk seek table: seek[i] is the audio time (ms) of the first frame (MP3) or
   * fragment (MP4) that starts in chunk i or later. A player that starts at chunk i hears audio
   * from there; the scheduler uses it as the time chunk i is needed by.
   */
  seek: number[]
}

/** The first catalogs: a plain MP3 file, cut into chunks. Still played; no longer written by ingest with ffmpeg. */
export interface Mp3Quality extends QualityCommon {
  codec: 'mp3'
  mime: 'audio/mpeg'
}

/**
 * Fragmented MP4 (AAC-LC): what every browser's Media Source Extensions accept. The init
 * segment (ftyp + moov: codec configuration, no audio) travels in the signed manifest; the
 * chunked, encrypted byte string is the media fragments (moof + mdat pairs) that follow it.
 * init + the decrypted byte string is a complete fragmented MP4 file.
 */
export interface Mp4Quality extends QualityCommon {
  codec: 'aac'
  mime: 'audio/mp4'
  /** RFC 6381 codec string, for MediaSource.isTypeSupported and addSourceBuffer. */
  codecs: string
  /** base64url of the init segment. */
  init: string
  /** Where each fragment starts: [audio time in ms (after the encoder delay), byte offset in the byte string]. */
  fragments: [number, number][]
  /**
   * Gapless playback: the decoder's first `delay` samples are encoder priming (and, from
   * ingest since the lead-in, silence that ends the track on a frame), and `samples` after them
   * are the real audio; whatever follows is padding. A player trims both, so consecutive tracks
   * join sample to sample.
   */
  delay: number
  samples: number
}

export type QualityManifest = Mp3Quality | Mp4Quality

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
const BASE64URL = /^[A-Za-z0-9_-]*$/
const CODECS = /^[A-Za-z0-9.]+$/
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)
const isNat = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0
const isText = (v: unknown, max: number): v is string => typeof v === 'string' && v.length <= max

function parseQuality(q: unknown, at: string, check: Check): QualityManifest {
  check(isObject(q), `${at} is not an object`)
  const o = q as Record<string, unknown>
  check(isBitrate(o.bitrate), `${at}.bitrate`)
  check((o.codec === 'mp3' && o.mime === 'audio/mpeg') || (o.codec === 'aac' && o.mime === 'audio/mp4'), `${at}.codec/mime`)
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
  const common = {
    bitrate: o.bitrate as number,
    sampleRate: o.sampleRate as number,
    channels: o.channels as number,
    byteLength,
    chunkSize,
    chunkCount,
    nonce: o.nonce as string,
    hashes: o.hashes as string[],
    seek: o.seek as number[],
  }
  if (o.codec === 'mp3') return { ...common, codec: 'mp3', mime: 'audio/mpeg' }
  check(isText(o.codecs, 64) && CODECS.test(o.codecs as string), `${at}.codecs must be an RFC 6381 codec string`)
  check(isText(o.init, 64 * 1024) && BASE64URL.test(o.init as string) && (o.init as string).length > 0, `${at}.init must be base64url`)
  check(Array.isArray(o.fragments) && o.fragments.length > 0 && o.fragments.length <= 100_000, `${at}.fragments`)
  let lastMs = 0
  let lastByte = -1
  for (const f of o.fragments as unknown[]) {
    check(Array.isArray(f) && f.length === 2 && isNat(f[0]) && isNat(f[1]), `${at}.fragments holds a non-[ms, byte] pair`)
    const [ms, byte] = f as [number, number]
    check(ms >= lastMs && byte > lastByte && byte < byteLength, `${at}.fragments must ascend within the byte string`)
    lastMs = ms
    lastByte = byte
  }
  check((o.fragments as [number, number][])[0]![1] === 0, `${at}.fragments must start at byte 0`)
  check(isNat(o.delay) && (o.delay as number) < 1 << 20, `${at}.delay`)
  check(isNat(o.samples) && (o.samples as number) > 0, `${at}.samples`)
  return {
    ...common,
    codec: 'aac',
    mime: 'audio/mp4',
    codecs: o.codecs as string,
    init: o.init as string,
    fragments: (o.fragments as [number, number][]).map(([ms, byte]) => [ms, byte]),
    delay: o.delay as number,
    samples: o.samples as number,
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

/** The last index in 0..count-1 whose key is <= value (0 when none is): a binary search over an ascending table. */
function lastAtOrBefore(count: number, key: (i: number) => number, value: number): number {
  let lo = 0
  let hi = count - 1
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1
    if (key(mid) <= value) lo = mid
    else hi = mid - 1
  }
  return lo
}

/**
 * The chunk holding audio time `ms` in a quality: where playback of `ms` starts. For MP3, a
 * binary search of the seek table; for MP4, the chunk holding the fragment (the seek table alone
 * would name a later chunk inside the last fragment, whose chunks all carry its time).
 */
export function chunkAtTime(quality: QualityManifest, ms: number): number {
  if (quality.codec === 'aac') return startPoint(quality, ms).chunk
  return lastAtOrBefore(quality.chunkCount, (i) => quality.seek[i]!, ms)
}

/** Where playback of a quality starts for a wanted time: the chunk, the bytes of it to skip, and the audio time there. */
export interface StartPoint {
  chunk: number
  skip: number
  timeMs: number
}

/**
 * The start for audio time `ms`. An MP3 decoder resyncs on its own, so any chunk start does; an
 * MP4 stream must start at a fragment, which may lie inside a chunk (the chunk is the one
 * chunkAtTime gives, by the definition of the seek table).
 */
export function startPoint(quality: QualityManifest, ms: number): StartPoint {
  if (quality.codec === 'mp3') {
    const chunk = chunkAtTime(quality, ms)
    return { chunk, skip: 0, timeMs: quality.seek[chunk] ?? 0 }
  }
  const f = quality.fragments
  const [timeMs, byte] = f[lastAtOrBefore(f.length, (i) => f[i]![0], ms)]!
  return { chunk: Math.floor(byte / quality.chunkSize), skip: byte % quality.chunkSize, timeMs }
}

/** The MIME type with codecs, as MediaSource.isTypeSupported and addSourceBuffer take it. */
export function mediaType(quality: QualityManifest): string {
  return quality.codec === 'mp3' ? 'audio/mpeg' : `audio/mp4; codecs="${quality.codecs}"`
}

/**
 * The seek table for fragments: seek[i] is the time of the first fragment starting in chunk i or
 * later; chunks after the last fragment's start take its time (their audio is needed by then).
 */
export function fragmentSeekTable(fragments: readonly (readonly [number, number])[], chunkSize: number, chunkCount: number): number[] {
  const seek: number[] = []
  let f = 0
  for (let i = 0; i < chunkCount; i++) {
    while (f < fragments.length && fragments[f]![1] < i * chunkSize) f++
    seek.push(fragments[Math.min(f, fragments.length - 1)]![0])
  }
  return seek
}

/**
 * The audio time a player can reach once every chunk before `index` is delivered: the start of
 * the frame (MP3) or fragment (MP4) that chunk `index`'s first byte belongs to, since a fragment
 * plays only when whole; the whole track when nothing is left.
 */
export function playableUntilMs(quality: QualityManifest, index: number, durationMs: number): number {
  if (index >= quality.chunkCount) return durationMs
  if (quality.codec === 'mp3') return quality.seek[index] ?? 0
  const at = index * quality.chunkSize
  const f = quality.fragments
  return f[lastAtOrBefore(f.length, (i) => f[i]![1], at)]![0]
}
