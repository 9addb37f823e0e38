import { readFile } from 'node:fs/promises'
import { ffmpegReason, findFfmpeg, runFfmpeg } from './ffmpeg.js'
import { AudioError, type Pcm } from './pcm.js'
import { parseWav } from './wav.js'

export { findFfmpeg }
import { looksLikeMp3, scanMp3, type Mp3Scan } from './mp3-frames.js'

export type DecodedInput = { kind: 'pcm'; pcm: Pcm } | { kind: 'mp3'; bytes: Uint8Array; scan: Mp3Scan }

export interface DecodeInputOptions {
  /**
   * The ffmpeg to run for formats read nowhere else: a path, or false for none. By default
   * `ffmpeg` is looked up on PATH.
   */
  ffmpeg?: string | false
  signal?: AbortSignal
}

/** What ffmpeg is asked for: the rate and layout the encoder handles best. */
const FFMPEG_RATE = 44100
const FFMPEG_CHANNELS = 2

/**
 * Reads an audio file, recognised by its content rather than its name: WAV becomes PCM, MP3 is
 * kept as it is (and indexed) when there is no ffmpeg, anything else goes through ffmpeg.
 */
export async function decodeInput(path: string, opts: DecodeInputOptions = {}): Promise<DecodedInput> {
  const data = await readFile(path)
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
  try {
    if (isWav(bytes)) {
      try {
        return { kind: 'pcm', pcm: parseWav(bytes) }
      } catch (err) {
        // A WAV holding a compressed codec (ADPCM, MP3, ...) is still ffmpeg's to try.
        if (!(err instanceof AudioError && err.code === 'unsupported_format')) throw err
        const ffmpeg = await findFfmpeg(opts.ffmpeg)
        if (!ffmpeg) throw new AudioError('unsupported_format', `${err.message}; ffmpeg would decode it, but none was found`)
        return { kind: 'pcm', pcm: await decodeWithFfmpeg(ffmpeg, path, opts.signal) }
      }
    }
    if (looksLikeMp3(bytes)) {
      // With ffmpeg, an MP3 is decoded and re-encoded like any input, so that every browser plays
      // it; without, it is kept byte for byte.
      const ffmpeg = await findFfmpeg(opts.ffmpeg)
      if (ffmpeg) return { kind: 'pcm', pcm: await decodeWithFfmpeg(ffmpeg, path, opts.signal) }
      return { kind: 'mp3', bytes, scan: scanMp3(bytes) }
    }
    const ffmpeg = await findFfmpeg(opts.ffmpeg)
    if (!ffmpeg) {
      throw new AudioError(
        'unsupported_format',
        `not WAV or MP3 (${describe(bytes)}); ffmpeg would decode other formats, but none was found (npm package @ffmpeg-installer/linux-x64, CHORUS_FFMPEG, or PATH)`,
      )
    }
    return { kind: 'pcm', pcm: await decodeWithFfmpeg(ffmpeg, path, opts.signal) }
  } catch (err) {
    if (err instanceof AudioError) throw named(err, path)
    throw err
  }
}

function isWav(bytes: Uint8Array): boolean {
  const riff = ascii(bytes, 0, 4)
  return (riff === 'RIFF' || riff === 'RF64' || riff === 'BW64') && ascii(bytes, 8, 4) === 'WAVE'
}

function named(err: AudioError, path: string): AudioError {
  if (err.file !== undefined) return err
  const out = new AudioError(err.code, `${path}: ${err.message}`, { cause: err.cause, file: path })
  out.stack = err.stack
  return out
}

/** Runs ffmpeg with its output on a pipe: raw s16le, 44.1 kHz stereo. */
async function decodeWithFfmpeg(ffmpeg: string, path: string, signal?: AbortSignal): Promise<Pcm> {
  const args = ['-i', path, '-vn', '-f', 's16le', '-acodec', 'pcm_s16le', '-ar', String(FFMPEG_RATE), '-ac', String(FFMPEG_CHANNELS), 'pipe:1']
  const run = await runFfmpeg(ffmpeg, args, { ...(signal && { signal }), failure: (message, cause) => new AudioError('decoder_failed', message, { cause }) })
  if (run.code !== 0) throw new AudioError('decoder_failed', `ffmpeg could not decode it: ${ffmpegReason(run)}`)
  const stdout = run.stdout
  const frames = Math.floor(stdout.length / (2 * FFMPEG_CHANNELS))
  if (frames === 0) throw new AudioError('corrupt_audio', 'ffmpeg found no audio in it')
  const left = new Int16Array(frames)
  const right = new Int16Array(frames)
  for (let i = 0, p = 0; i < frames; i++, p += 4) {
    left[i] = stdout.readInt16LE(p)
    right[i] = stdout.readInt16LE(p + 2)
  }
  return { sampleRate: FFMPEG_RATE, channels: [left, right] }
}

/** A hint for the error message: the first bytes, as text when they are text. */
function describe(bytes: Uint8Array): string {
  if (bytes.length === 0) return 'the file is empty'
  const head = ascii(bytes, 0, 4)
  if (head === 'fLaC') return 'it looks like FLAC'
  if (head === 'OggS') return 'it looks like Ogg'
  if (ascii(bytes, 4, 4) === 'ftyp') return 'it looks like MP4/M4A'
  if (head === 'FORM') return 'it looks like AIFF'
  if (bytes[0] === 0xff && (bytes[1]! & 0xf6) === 0xf0) return 'it looks like AAC (ADTS)'
  const hex = Array.from(bytes.subarray(0, 8), (b) => b.toString(16).padStart(2, '0')).join(' ')
  return `it starts with ${hex}`
}

function ascii(bytes: Uint8Array, offset: number, length: number): string {
  let s = ''
  for (let i = 0; i < length; i++) s += String.fromCharCode(bytes[offset + i] ?? 0)
  return s
}
