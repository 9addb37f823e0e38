/** Decoded audio as the encoder takes it: 16-bit samples, one array per channel. */
export interface Pcm {
  sampleRate: number
  /** 1 or 2 channels of equal length. */
  channels: Int16Array[]
}

export type AudioErrorCode = 'unsupported_format' | 'corrupt_audio' | 'decoder_failed' | 'encoder_failed'

/**
 * Anything wrong with an input file (or with turning it into MP3). `file` is set once the
 * failure is tied to a path, so the CLI and the server can name it without parsing messages.
 */
export class AudioError extends Error {
  readonly code: AudioErrorCode
  file?: string

  constructor(code: AudioErrorCode, message: string, options?: { cause?: unknown; file?: string }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'AudioError'
    this.code = code
    if (options?.file !== undefined) this.file = options.file
  }
}

/** Sample rates an MP3 frame header can carry (MPEG-1, MPEG-2, MPEG-2.5). */
const MP3_SAMPLE_RATES: readonly number[] = [48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000]

export function isMp3SampleRate(rate: number): boolean {
  return MP3_SAMPLE_RATES.includes(rate)
}

export function pcmFrames(pcm: Pcm): number {
  return pcm.channels[0]?.length ?? 0
}

/** Full scale is 1.0 = 32768, so 16-bit input survives a round trip through float exactly. */
export function floatToInt16(samples: Float32Array): Int16Array {
  const out = new Int16Array(samples.length)
  for (let i = 0; i < samples.length; i++) {
    const v = Math.round((samples[i] as number) * 32768)
    // NaN (from a broken float file) lands on 0 through the comparisons failing.
    out[i] = v > 32767 ? 32767 : v < -32768 ? -32768 : Number.isNaN(v) ? 0 : v
  }
  return out
}
