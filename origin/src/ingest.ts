import { randomBytes } from 'node:crypto'
import { basename, extname } from 'node:path'
import { DEFAULT_CHUNK_SIZE, MANIFEST_SCHEMA, type Manifest, STANDARD_BITRATES, assertTrackId, newVersion, signManifest, slugify, toBase64Url } from '../../protocol/index.js'
import { decodeInput } from './audio/decode.js'
import { encodeMp3 } from './audio/encode.js'
import { AAC_CODECS, encodeAac } from './audio/encode-aac.js'
import { findFfmpeg } from './audio/ffmpeg.js'
import { scanMp3 } from './audio/mp3-frames.js'
import { AudioError, type Pcm } from './audio/pcm.js'
import type { OriginKeys } from './keys.js'
import { buildMaster, type PlainQuality } from './masters.js'
import type { MasterPublisher } from './storage.js'
import { createDirectoryPublisher } from './store.js'

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
  /** The catalog directory: where the version is published unless `publisher` says otherwise. */
  dataDir: string
  /** Where the version goes (an R2 bucket, say); default: the directory store of dataDir. */
  publisher?: MasterPublisher
  keys: OriginKeys
  chunkSize?: number
  bitrates?: readonly number[]
  /** Called with the fraction of this track's encoding done. */
  onProgress?: (fraction: number) => void
  signal?: AbortSignal
  workers?: number
  now?: () => number
  /**
   * 'aac': AAC-LC in fragmented MP4 through ffmpeg (the default when ffmpeg is found: every
   * browser's MSE plays it, and it encodes at 60-150x real time per core). 'mp3': the pure-JS
   * LAME port, about 8-17x real time per core, played through MSE by Chromium only: the
   * fallback when there is no ffmpeg, with a warning.
   */
  codec?: 'aac' | 'mp3'
  /** The ffmpeg to run (a path), or false for none; by default findFfmpeg() looks. */
  ffmpeg?: string | false
  /** Told when ingest falls back to a slower or narrower path. */
  onWarning?: (message: string) => void
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
  codec: 'aac' | 'mp3'
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

/** Which encoder runs: AAC through ffmpeg unless MP3 is asked for or there is no ffmpeg. */
async function chooseEncoder(options: IngestOptions): Promise<{ codec: 'aac'; ffmpeg: string } | { codec: 'mp3' }> {
  if (options.codec === 'mp3') return { codec: 'mp3' }
  const ffmpeg = await findFfmpeg(options.ffmpeg)
  if (ffmpeg) return { codec: 'aac', ffmpeg }
  if (options.codec === 'aac') throw new AudioError('encoder_failed', 'AAC needs ffmpeg, and none was found (npm package @ffmpeg-installer/linux-x64, CHORUS_FFMPEG, or ffmpeg on PATH)')
  options.onWarning?.('ffmpeg not found: encoding MP3 with the pure-JS encoder, about 10x slower, and playable through MSE in Chromium only')
  return { codec: 'mp3' }
}

async function encodeQualities(pcm: Pcm, bitrates: readonly number[], options: IngestOptions): Promise<PlainQuality[]> {
  const encoder = await chooseEncoder(options)
  const encodeOptions = {
    onProgress: (done: number, total: number) => options.onProgress?.(total > 0 ? done / total : 1),
    ...(options.signal && { signal: options.signal }),
    ...(options.workers && { workers: options.workers }),
  }
  if (encoder.codec === 'aac') {
    const encoded = await encodeAac(encoder.ffmpeg, pcm, [...bitrates], encodeOptions)
    return [...encoded.values()].map((q) => ({
      codec: 'aac',
      bitrate: q.bitrate,
      bytes: q.media,
      sampleRate: q.timescale,
      channels: q.channels,
      codecs: AAC_CODECS,
      init: q.init,
      // Fragment times in the manifest are audio times: the priming comes off.
      fragments: q.fragments.map((f) => [Math.max(0, Math.round(((f.decodeTime - q.delay) / q.timescale) * 1000)), f.byte]),
      delay: q.delay,
      samples: q.samples,
    }))
  }
  const encoded = await encodeMp3(pcm, [...bitrates], encodeOptions)
  return [...encoded].map(([bitrate, bytes]) => plainMp3(bitrate, bytes))
}

function plainMp3(bitrate: number, bytes: Uint8Array): PlainQuality {
  const scan = scanMp3(bytes)
  return { codec: 'mp3', bitrate, bytes, sampleRate: scan.sampleRate, channels: scan.channels, frameOffsets: scan.frameOffsets, frameTimesMs: scan.frameTimesMs }
}

/** A track's length from its masters: exact samples for MP4, the PCM's length otherwise. */
function lengthMs(qualities: PlainQuality[], fallbackMs: number): number {
  const q = qualities.find((x) => x.codec === 'aac')
  return q?.codec === 'aac' ? Math.round((q.samples / q.sampleRate) * 1000) : Math.round(fallbackMs)
}

/** Ingests decoded PCM (the demo catalog, or a decoded file) in the standard qualities. */
export async function ingestPcm(pcm: Pcm, meta: Required<TrackMeta>, options: IngestOptions): Promise<IngestResult> {
  const qualities = await encodeQualities(pcm, options.bitrates ?? STANDARD_BITRATES, options)
  const durationMs = lengthMs(qualities, (pcm.channels[0]!.length / pcm.sampleRate) * 1000)
  return publish(qualities, durationMs, meta, true, options)
}

/**
 * Ingests one file: anything ffmpeg decodes (WAV without it) is encoded in the standard
 * qualities; without ffmpeg, an MP3 is kept as it is, at its own bitrate, as its one quality.
 */
export async function ingestFile(path: string, meta: TrackMeta, options: IngestOptions): Promise<IngestResult> {
  const full = defaultMeta(path, meta)
  assertTrackId(full.trackId)
  const encoder = await chooseEncoder(options)
  const input = await decodeInput(path, { ffmpeg: encoder.codec === 'aac' ? encoder.ffmpeg : false, ...(options.signal && { signal: options.signal }) })
  if (input.kind === 'pcm') return ingestPcm(input.pcm, full, { ...options, ...(encoder.codec === 'aac' ? { ffmpeg: encoder.ffmpeg } : { codec: 'mp3' }) })
  const bytes = input.bytes.subarray(input.scan.audioStart)
  const quality = plainMp3(input.scan.bitrateKbps, bytes)
  options.onProgress?.(1)
  return publish([quality], input.scan.durationMs, full, false, options)
}

async function publish(plain: PlainQuality[], durationMs: number, meta: Required<TrackMeta>, encoded: boolean, options: IngestOptions): Promise<IngestResult> {
  const now = options.now ?? Date.now
  const chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE
  const key = randomBytes(16)
  const built = plain.sort((a, b) => a.bitrate - b.bitrate).map((q) => buildMaster(q, key, randomBytes(8), chunkSize))
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
  await (options.publisher ?? createDirectoryPublisher(options.dataDir)).publish({
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
    codec: manifest.qualities[0]!.codec,
  }
}
