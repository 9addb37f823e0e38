import { randomBytes } from 'node:crypto'
import { basename, extname } from 'node:path'
import {
  DEFAULT_CHUNK_SIZE,
  MANIFEST_SCHEMA,
  type Manifest,
  STANDARD_BITRATES,
  assertTrackId,
  newVersion,
  signManifest,
  slugify,
  toBase64Url,
} from '../../protocol/index.js'
import { decodeInput } from './audio/decode.js'
import { encodeMp3 } from './audio/encode.js'
import { scanMp3 } from './audio/mp3-frames.js'
import type { Pcm } from './audio/pcm.js'
import type { OriginKeys } from './keys.js'
import { buildMaster, type PlainQuality } from './masters.js'
import { publishVersion } from './store.js'

/**
 * One ingest: audio in, one published version out. The path of a chunk starts here:
 * decode -> encode each quality -> cut into chunks, encrypt, hash -> sign the manifest ->
 * publish atomically.
 */
export interface TrackMeta {
  trackId?: string
  title?: string
  artist?: string
  album?: string
}

export interface IngestOptions {
  dataDir: string
  keys: OriginKeys
  chunkSize?: number
  bitrates?: readonly number[]
  /** Called with the fraction of this track's encoding done. */
  onProgress?: (fraction: number) => void
  signal?: AbortSignal
  workers?: number
  now?: () => number
}

export interface IngestResult {
  trackId: string
  version: string
  title: string
  artist: string
  durationMs: number
  bitrates: number[]
  bytes: number
  chunks: number
  encoded: boolean
}

function defaultMeta(path: string, meta: TrackMeta): Required<TrackMeta> {
  const name = basename(path, extname(path))
  return {
    trackId: meta.trackId ?? slugify(name),
    title: meta.title ?? name,
    artist: meta.artist ?? 'Unknown artist',
    album: meta.album ?? '',
  }
}

async function encodeQualities(pcm: Pcm, bitrates: readonly number[], options: IngestOptions): Promise<PlainQuality[]> {
  const encodeOptions: Parameters<typeof encodeMp3>[2] = {
    onProgress: (done, total) => options.onProgress?.(total > 0 ? done / total : 1),
  }
  if (options.signal) encodeOptions.signal = options.signal
  if (options.workers) encodeOptions.workers = options.workers
  const encoded = await encodeMp3(pcm, [...bitrates], encodeOptions)
  return [...encoded].map(([bitrate, bytes]) => plainQuality(bitrate, bytes))
}

function plainQuality(bitrate: number, bytes: Uint8Array): PlainQuality {
  const scan = scanMp3(bytes)
  return { bitrate, bytes, sampleRate: scan.sampleRate, channels: scan.channels, frameOffsets: scan.frameOffsets, frameTimesMs: scan.frameTimesMs }
}

/** Ingests decoded PCM (the demo catalog, or a decoded file) in the standard qualities. */
export async function ingestPcm(pcm: Pcm, meta: Required<TrackMeta>, options: IngestOptions): Promise<IngestResult> {
  const qualities = await encodeQualities(pcm, options.bitrates ?? STANDARD_BITRATES, options)
  const durationMs = Math.round((pcm.channels[0]!.length / pcm.sampleRate) * 1000)
  return publish(qualities, durationMs, meta, true, options)
}

/** Ingests one file: WAV (and, with ffmpeg, anything it decodes) is encoded; an MP3 is kept at its own bitrate. */
export async function ingestFile(path: string, meta: TrackMeta, options: IngestOptions): Promise<IngestResult> {
  const full = defaultMeta(path, meta)
  assertTrackId(full.trackId)
  const input = await decodeInput(path)
  if (input.kind === 'pcm') return ingestPcm(input.pcm, full, options)
  const bytes = input.bytes.subarray(input.scan.audioStart)
  const quality = plainQuality(input.scan.bitrateKbps, bytes)
  options.onProgress?.(1)
  return publish([quality], input.scan.durationMs, full, false, options)
}

async function publish(plain: PlainQuality[], durationMs: number, meta: Required<TrackMeta>, encoded: boolean, options: IngestOptions): Promise<IngestResult> {
  const now = options.now ?? Date.now
  const chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE
  const key = randomBytes(16)
  const built = plain
    .sort((a, b) => a.bitrate - b.bitrate)
    .map((q) => buildMaster(q, key, randomBytes(8), chunkSize))
  const manifest: Manifest = {
    schema: MANIFEST_SCHEMA,
    trackId: assertTrackId(meta.trackId),
    version: newVersion(now(), randomBytes(4)),
    title: meta.title.slice(0, 500),
    artist: meta.artist.slice(0, 500),
    album: meta.album.slice(0, 500),
    durationMs,
    createdAt: new Date(now()).toISOString(),
    qualities: built.map((b) => b.quality),
  }
  const signed = await signManifest(manifest, options.keys.signer, options.keys.keyId)
  await publishVersion(options.dataDir, {
    manifest,
    signed,
    keyB64: toBase64Url(new Uint8Array(key)),
    masters: new Map(built.map((b) => [b.quality.bitrate, b.encrypted])),
  })
  return {
    trackId: manifest.trackId,
    version: manifest.version,
    title: manifest.title,
    artist: manifest.artist,
    durationMs,
    bitrates: manifest.qualities.map((q) => q.bitrate),
    bytes: built.reduce((n, b) => n + b.encrypted.length, 0),
    chunks: built.reduce((n, b) => n + b.quality.chunkCount, 0),
    encoded,
  }
}
