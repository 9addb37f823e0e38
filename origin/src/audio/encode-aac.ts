import { availableParallelism } from 'node:os'
import { ffmpegReason, runFfmpeg } from './ffmpeg.js'
import { splitFragmentedMp4, type SplitMp4 } from './mp4-fragments.js'
import { AudioError, type Pcm, pcmFrames } from './pcm.js'

/**
 * AAC-LC in fragmented MP4, encoded by ffmpeg: the container every browser's Media Source
 * Extensions accept (Chromium, Firefox and Safari all take 'mp4a.40.2'; Opus in MP4 is not
 * taken by older Safari, and MP3 not by Firefox). One ffmpeg process per quality, fed raw PCM
 * on stdin, writing fragments of about a second to stdout.
 */
export interface AacEncodeOptions {
  /** Samples fed so far across all jobs, out of input length times the number of bitrates. */
  onProgress?: (done: number, total: number) => void
  signal?: AbortSignal
  /** Most ffmpeg processes at once; defaults to the cores available. */
  workers?: number
}

export interface AacQuality extends SplitMp4 {
  bitrate: number
  /**
   * Samples the decoder puts out before the input's first sample: the encoder's priming plus
   * the lead-in of silence that puts the track's last sample on the end of an AAC frame.
   */
  delay: number
  /** The input's length in samples (at sampleRate): the real audio after the priming. */
  samples: number
}

/** RFC 6381: MPEG-4 audio, object type 2 (AAC-LC). */
export const AAC_CODECS = 'mp4a.40.2'

/**
 * ffmpeg's native AAC encoder primes with exactly one frame (its `initial_padding` is 1024), and
 * a fragmented MP4 written with an empty moov has no edit list to say so: the manifest does.
 * origin/test/audio-aac.test.ts decodes an encoded click and checks this figure.
 */
export const AAC_PRIMING = 1024

/** Samples in one AAC-LC frame. */
export const AAC_FRAME = 1024

/**
 * Silence to put before a track of `samples` so that priming + lead-in + track is a whole number
 * of AAC frames: the track's real end is then a frame's end. Why: Chromium's MSE trims a frame
 * cut by the append window (the padding after a track's end) and keeps its timeline right, but
 * renders the cut part as silence when the next track follows (measured: a 281-sample hole at
 * every gapless join). With the end on a frame boundary no frame is cut at the end; the only
 * cut is at the start, inside the lead-in, which every MSE trims from its preroll without a hole.
 */
export function gaplessLead(samples: number): number {
  return (AAC_FRAME - ((AAC_PRIMING + samples) % AAC_FRAME)) % AAC_FRAME
}

/** Rates AAC's sampling-frequency table holds; anything else is resampled by ffmpeg to 44.1 kHz. */
const AAC_RATES = new Set([96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000])

/** About one second per fragment: a seek lands within a second of its target, and the overhead stays near 1 %. */
const FRAGMENT_MICROSECONDS = 1_000_000

export async function encodeAac(ffmpeg: string, pcm: Pcm, bitratesKbps: number[], opts: AacEncodeOptions = {}): Promise<Map<number, AacQuality>> {
  const frames = pcmFrames(pcm)
  if (pcm.channels.length !== 1 && pcm.channels.length !== 2) throw new RangeError(`encodeAac: PCM must have 1 or 2 channels (got ${pcm.channels.length})`)
  if (frames === 0) throw new RangeError('encodeAac: PCM holds no samples')
  const bitrates = [...new Set(bitratesKbps)]
  for (const kbps of bitrates) if (!Number.isInteger(kbps) || kbps < 8 || kbps > 512) throw new RangeError(`encodeAac: ${kbps} kbit/s is out of range (8-512)`)
  opts.signal?.throwIfAborted()
  const outRate = AAC_RATES.has(pcm.sampleRate) ? pcm.sampleRate : 44100
  // Samples at the output rate: ffmpeg resamples when the input's rate is not AAC's. The lead-in
  // is counted there and fed at the input rate; after a resampler it lands within a sample.
  const samples = Math.round((frames * outRate) / pcm.sampleRate)
  const leadIn = Math.round((gaplessLead(samples) * pcm.sampleRate) / outRate)
  const delay = AAC_PRIMING + Math.round((leadIn * outRate) / pcm.sampleRate)
  const interleaved = interleave(pcm, leadIn)
  const done = new Map<number, number>()
  const report = (kbps: number, fed: number) => {
    done.set(kbps, Math.max(0, fed - leadIn))
    let sum = 0
    for (const v of done.values()) sum += v
    opts.onProgress?.(sum, frames * bitrates.length)
  }

  const results = new Map<number, AacQuality>()
  const queue = [...bitrates]
  const workers = Math.max(1, Math.min(queue.length, opts.workers ?? availableParallelism()))
  const failure = new AbortController()
  const signal = opts.signal ? AbortSignal.any([opts.signal, failure.signal]) : failure.signal
  const run = async (): Promise<void> => {
    for (let kbps = queue.shift(); kbps !== undefined; kbps = queue.shift()) {
      const file = await encodeOne(ffmpeg, pcm, interleaved, outRate, kbps, signal, (fed) => report(kbps, fed))
      results.set(kbps, { ...splitFragmentedMp4(file), bitrate: kbps, delay, samples })
    }
  }
  await Promise.all(
    Array.from({ length: workers }, () =>
      run().catch((err) => {
        failure.abort(err)
        throw err
      }),
    ),
  ).catch((err) => {
    throw opts.signal?.aborted ? opts.signal.reason : err
  })
  return new Map(bitrates.map((kbps) => [kbps, results.get(kbps)!]))
}

/** s16le, channels interleaved, after `lead` frames of silence. */
function interleave(pcm: Pcm, lead: number): Buffer {
  const [left, right] = pcm.channels
  const frames = left!.length
  const out = Buffer.alloc((lead + frames) * 2 * pcm.channels.length)
  const view = new Int16Array(out.buffer, out.byteOffset + lead * 2 * pcm.channels.length, frames * pcm.channels.length)
  if (!right) view.set(left!)
  else
    for (let i = 0, j = 0; i < frames; i++, j += 2) {
      view[j] = left![i]!
      view[j + 1] = right[i]!
    }
  // Int16Array writes in the machine's order; s16le is what ffmpeg is told, so say so on big-endian hosts.
  if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) out.swap16()
  return out
}

/** One quality: PCM in on stdin, fMP4 out on stdout. */
async function encodeOne(ffmpeg: string, pcm: Pcm, input: Buffer, outRate: number, kbps: number, signal: AbortSignal, progress: (framesFed: number) => void): Promise<Uint8Array> {
  const channels = pcm.channels.length
  const args = [
    '-f',
    's16le',
    '-ar',
    String(pcm.sampleRate),
    '-ac',
    String(channels),
    '-i',
    'pipe:0',
    '-vn',
    '-c:a',
    'aac',
    '-b:a',
    `${kbps}k`,
    '-ar',
    String(outRate),
    '-movflags',
    '+empty_moov+default_base_moof+frag_keyframe',
    '-frag_duration',
    String(FRAGMENT_MICROSECONDS),
    '-f',
    'mp4',
    'pipe:1',
  ]
  const run = await runFfmpeg(ffmpeg, args, {
    input,
    signal,
    onFed: (bytes) => progress(bytes / (2 * channels)),
    failure: (message, cause) => new AudioError('encoder_failed', message, { cause }),
  })
  if (run.code !== 0) throw new AudioError('encoder_failed', `ffmpeg AAC encode at ${kbps} kbit/s failed: ${ffmpegReason(run)}`)
  return new Uint8Array(run.stdout.buffer, run.stdout.byteOffset, run.stdout.byteLength)
}
