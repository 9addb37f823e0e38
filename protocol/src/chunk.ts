import { ProtocolError } from './errors.js'
import { fromHex } from './encoding.js'
import { isBitrate, isTrackId, isVersion } from './ids.js'

/**
 * Chunk addressing. A chunk URL names one immutable byte string: the track's id, the version
 * made by one ingest, the quality and the index. A re-ingest makes a new version and so new
 * URLs, which is why every cache may keep a chunk forever.
 */
export interface ChunkAddress {
  trackId: string
  version: string
  bitrate: number
  index: number
}

export const CHUNK_PREFIX = '/v1/chunks/'

export function chunkPath(a: ChunkAddress): string {
  return `${CHUNK_PREFIX}${a.trackId}/${a.version}/${a.bitrate}/${a.index}`
}

export function manifestPath(trackId: string, version?: string): string {
  return version === undefined ? `/v1/tracks/${trackId}/manifest` : `/v1/tracks/${trackId}/versions/${version}/manifest`
}

export function keyPath(trackId: string, version?: string): string {
  return version === undefined ? `/v1/tracks/${trackId}/key` : `/v1/tracks/${trackId}/key?version=${version}`
}

const INDEX = /^(0|[1-9][0-9]{0,8})$/
const BITRATE = /^[1-9][0-9]{0,2}$/

/** Parses the part of a chunk path after `/v1/chunks/`; throws a 400-class ProtocolError. */
export function parseChunkPath(rest: string): ChunkAddress {
  const parts = rest.split('/')
  if (parts.length !== 4) throw new ProtocolError('invalid_path', 'a chunk path is /v1/chunks/{track}/{version}/{bitrate}/{index}')
  const [trackId, version, bitrateText, indexText] = parts as [string, string, string, string]
  if (!isTrackId(trackId)) throw new ProtocolError('invalid_id', 'invalid track id in chunk path')
  if (!isVersion(version)) throw new ProtocolError('invalid_id', 'invalid version in chunk path')
  const bitrate = BITRATE.test(bitrateText) ? Number(bitrateText) : Number.NaN
  if (!isBitrate(bitrate)) throw new ProtocolError('invalid_path', 'invalid bitrate in chunk path')
  if (!INDEX.test(indexText)) throw new ProtocolError('invalid_path', 'invalid chunk index in chunk path')
  return { trackId, version, bitrate, index: Number(indexText) }
}

/** Chunk sizes are whole AES blocks so that every chunk starts on a counter boundary. */
export const DEFAULT_CHUNK_SIZE = 32 * 1024
export const MIN_CHUNK_SIZE = 1024
export const MAX_CHUNK_SIZE = 4 * 1024 * 1024

export function isChunkSize(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= MIN_CHUNK_SIZE && value <= MAX_CHUNK_SIZE && value % 16 === 0
}

/**
 * The AES-128-CTR counter block for the chunk that starts at `index * chunkSize`: an 8-byte
 * nonce per (track version, quality) and a 64-bit big-endian block counter equal to the byte
 * offset / 16. Any chunk therefore decrypts on its own, and no two qualities of one track
 * share keystream although they share the track's key.
 */
export function chunkCounter(nonceHex: string, index: number, chunkSize: number): Uint8Array {
  const nonce = fromHex(nonceHex)
  if (nonce.length !== 8) throw new TypeError('nonce must be 8 bytes')
  const block = new Uint8Array(16)
  block.set(nonce, 0)
  const blocks = BigInt(index) * BigInt(chunkSize / 16)
  new DataView(block.buffer).setBigUint64(8, blocks, false)
  return block
}

/** The byte length of chunk `index` (the last one is usually short). */
export function chunkLength(byteLength: number, chunkSize: number, index: number): number {
  return Math.max(0, Math.min(chunkSize, byteLength - index * chunkSize))
}
