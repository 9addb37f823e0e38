import { spawn } from 'node:child_process'
import { findFfmpeg } from '../../support/ffmpeg.js'
import { type TrackTiming, clampCrossfade, joinTracks, trimDecoded } from './core/transition.js'

/**
 * Decoded rendering of played tracks (Node only, for `chorus play A B --out x.wav`): each
 * track's bytes as the stream gave them (a whole fragmented MP4, or MP3) are decoded by ffmpeg,
 * trimmed to their real audio (encoder priming and padding off, core/transition.ts) and joined
 * sample to sample, or crossfaded. ffmpeg is found the way ingest finds it (CHORUS_FFMPEG, the
 * npm package @ffmpeg-installer/linux-x64, PATH).
 */
export interface RenderTrack {
  /** The track's audio from its start: init segment + every fragment (AAC), or the MP3 file. */
  bytes: Uint8Array
  codec: 'aac' | 'mp3'
  timing: TrackTiming
  channels: number
}

export interface Rendered {
  sampleRate: number
  /** Per channel. */
  channels: Float32Array[]
}

export class RenderError extends Error {
  override name = 'RenderError'
}

/** The ffmpeg to decode with, or a RenderError saying how to get one. */
export async function ffmpegForRender(choice?: string): Promise<string> {
  const ffmpeg = await findFfmpeg(choice)
  if (!ffmpeg) throw new RenderError('rendering to WAV decodes with ffmpeg, and none was found (npm package @ffmpeg-installer/linux-x64, CHORUS_FFMPEG, or ffmpeg on PATH)')
  return ffmpeg
}

/**
 * Decodes one track to float PCM at `sampleRate` with `channels` channels. Nothing is trimmed:
 * an AAC stream's edit list (if any) is ignored, so the output starts with the encoder priming
 * the manifest's `delay` counts. ffmpeg does drop an MP3's LAME-tag delay itself, which is why
 * an MP3's timing has a delay of 0.
 */
async function decodeTrack(ffmpeg: string, bytes: Uint8Array, codec: 'aac' | 'mp3', sampleRate: number, channels: number): Promise<Float32Array[]> {
  const args = [
    '-hide_banner',
    '-nostdin',
    '-loglevel',
    'error',
    ...(codec === 'aac' ? ['-ignore_editlist', '1', '-f', 'mp4'] : ['-f', 'mp3']),
    '-i',
    'pipe:0',
    '-vn',
    '-f',
    'f32le',
    '-acodec',
    'pcm_f32le',
    '-ar',
    String(sampleRate),
    '-ac',
    String(channels),
    'pipe:1',
  ]
  const raw = await new Promise<Buffer>((resolve, reject) => {
    const child = spawn(ffmpeg, args, { stdio: ['pipe', 'pipe', 'pipe'] })
    const out: Buffer[] = []
    let err = ''
    child.stdout.on('data', (d: Buffer) => out.push(d))
    child.stderr.on('data', (d: Buffer) => {
      if (err.length < 8192) err += d.toString()
    })
    child.on('error', (e) => reject(new RenderError(`could not run ffmpeg (${ffmpeg}): ${e.message}`)))
    child.on('close', (code) => {
      if (code !== 0 || err.trim())
        reject(new RenderError(`ffmpeg could not decode the ${codec === 'aac' ? 'MP4' : 'MP3'} stream: ${err.trim().split('\n').slice(-3).join(' / ') || `exit code ${code}`}`))
      else resolve(Buffer.concat(out))
    })
    // ffmpeg exiting early closes stdin under us: 'close' above says why.
    child.stdin.on('error', () => undefined)
    child.stdin.end(bytes)
  })
  const frames = Math.floor(raw.byteLength / 4 / channels)
  const samples = new Float32Array(frames * channels)
  // Copy out: the Buffer may sit at an offset that is not a multiple of 4.
  new Uint8Array(samples.buffer).set(raw.subarray(0, samples.byteLength))
  const planes = Array.from({ length: channels }, () => new Float32Array(frames))
  for (let i = 0, j = 0; i < frames; i++) for (let c = 0; c < channels; c++) planes[c]![i] = samples[j++]!
  return planes
}

/**
 * Decodes, trims and joins tracks (`trim: false` keeps each track's priming and padding: what
 * a player without the gapless data would play), in order, at the first track's rate and channel count (a
 * track at another rate is resampled and its timing scaled to match). `crossfadeSec` (0-12)
 * overlaps each join under equal-power curves; 0 joins them gaplessly.
 */
export async function renderTracks(tracks: readonly RenderTrack[], options: { crossfadeSec?: number; ffmpeg?: string; trim?: boolean } = {}): Promise<Rendered> {
  if (tracks.length === 0) throw new RenderError('nothing to render')
  const ffmpeg = await ffmpegForRender(options.ffmpeg)
  const first = tracks[0]!
  const sampleRate = first.timing.sampleRate
  const channels = first.channels
  const trimmed: Float32Array[][] = []
  for (const t of tracks) {
    const ratio = sampleRate / t.timing.sampleRate
    const timing: TrackTiming = ratio === 1 ? t.timing : { sampleRate, delay: Math.round(t.timing.delay * ratio), samples: Math.round(t.timing.samples * ratio) }
    const decoded = await decodeTrack(ffmpeg, t.bytes, t.codec, sampleRate, channels)
    // trim: false keeps the priming and padding (what a player without gapless data plays).
    trimmed.push(options.trim === false ? decoded : trimDecoded(decoded, timing))
  }
  // joinTracks bounds each join's fade by half of either track, as fadeSec() does.
  const fadeSamples = Math.round(clampCrossfade(options.crossfadeSec ?? 0) * sampleRate)
  return { sampleRate, channels: joinTracks(trimmed, fadeSamples) }
}

/** A WAV file of float PCM: 32-bit float (WAVE_FORMAT_IEEE_FLOAT, no clipping) or 16-bit integer. */
export function encodeWav(pcm: Rendered, format: 'f32' | 's16' = 'f32'): Uint8Array {
  const channels = pcm.channels.length
  const frames = pcm.channels[0]?.length ?? 0
  const bytesPerSample = format === 'f32' ? 4 : 2
  const dataBytes = frames * channels * bytesPerSample
  // f32: fmt with cbSize (18 bytes) and a fact chunk, as the format asks for non-PCM data.
  const fmtBytes = format === 'f32' ? 18 : 16
  const factBytes = format === 'f32' ? 12 : 0
  const header = 12 + 8 + fmtBytes + factBytes + 8
  const out = new Uint8Array(header + dataBytes)
  const view = new DataView(out.buffer)
  const ascii = (at: number, s: string) => {
    for (let i = 0; i < s.length; i++) out[at + i] = s.charCodeAt(i)
  }
  ascii(0, 'RIFF')
  view.setUint32(4, out.length - 8, true)
  ascii(8, 'WAVE')
  ascii(12, 'fmt ')
  view.setUint32(16, fmtBytes, true)
  view.setUint16(20, format === 'f32' ? 3 : 1, true)
  view.setUint16(22, channels, true)
  view.setUint32(24, pcm.sampleRate, true)
  view.setUint32(28, pcm.sampleRate * channels * bytesPerSample, true)
  view.setUint16(32, channels * bytesPerSample, true)
  view.setUint16(34, bytesPerSample * 8, true)
  let at = 36
  if (format === 'f32') {
    view.setUint16(at, 0, true)
    at += 2
    ascii(at, 'fact')
    view.setUint32(at + 4, 4, true)
    view.setUint32(at + 8, frames, true)
    at += 12
  }
  ascii(at, 'data')
  view.setUint32(at + 4, dataBytes, true)
  at += 8
  for (let i = 0; i < frames; i++) {
    for (let c = 0; c < channels; c++) {
      const v = pcm.channels[c]![i]!
      if (format === 'f32') view.setFloat32(at, v, true)
      else view.setInt16(at, Math.max(-32768, Math.min(32767, Math.round(v * 32767))), true)
      at += bytesPerSample
    }
  }
  return out
}
