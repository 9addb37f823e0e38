import { AudioError, floatToInt16, isMp3SampleRate, type Pcm } from './pcm.js'
import { stereoDownmixWeights } from './downmix.js'
import { resample } from './resample.js'

/** The rate odd-rate files are brought to: the MP3 rate every player handles. */
const FALLBACK_SAMPLE_RATE = 44100

type WavSampleFormat = 'int' | 'float' | 'alaw' | 'mulaw'

export interface WavInfo {
  format: WavSampleFormat
  /** Bits per sample as declared; samples are read at the container width (`bytesPerSample`). */
  bitsPerSample: number
  bytesPerSample: number
  channels: number
  channelMask: number
  sampleRate: number
  frames: number
  dataOffset: number
  /** True when the data chunk declared more bytes than the file holds and `allowTruncated` kept the rest. */
  truncated: boolean
}

export interface ParseWavOptions {
  /** Keep the whole frames present when the data chunk is cut short, instead of failing. */
  allowTruncated?: boolean
}

const FORMAT_NAMES: Record<number, string> = {
  2: 'Microsoft ADPCM',
  17: 'IMA ADPCM',
  49: 'GSM 6.10',
  80: 'MPEG audio',
  85: 'MP3',
  353: 'Windows Media Audio',
  354: 'Windows Media Audio Pro',
  255: 'AAC',
  5648: 'AAC',
  61868: 'FLAC',
  8192: 'AC-3',
}

const MAX_CHANNELS = 32
const MIN_RATE = 1000
const MAX_RATE = 768000
/** Longer than this is taken for a damaged header (and would not fit in memory as PCM anyway). */
const MAX_SECONDS = 6 * 3600

/**
 * Reads a RIFF/RF64 WAVE file into 16-bit PCM: mono stays mono, stereo stays stereo, more channels
 * fold into stereo, and a rate MP3 cannot carry is resampled to 44100 Hz.
 */
export function parseWav(bytes: Uint8Array, options: ParseWavOptions = {}): Pcm {
  const info = readWavInfo(bytes, options)
  const outChannels = Math.min(info.channels, 2)
  const weights: Float64Array[] =
    info.channels <= 2
      ? Array.from({ length: outChannels }, (_, c) => Float64Array.from({ length: info.channels }, (_, s) => (s === c ? 1 : 0)))
      : stereoDownmixWeights(info.channels, info.channelMask)
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const targetRate = isMp3SampleRate(info.sampleRate) ? info.sampleRate : FALLBACK_SAMPLE_RATE

  const channels: Int16Array[] = []
  for (const channelWeights of weights) {
    let mix: Float32Array = new Float32Array(info.frames)
    channelWeights.forEach((weight, source) => {
      if (weight !== 0) accumulateChannel(view, info, source, weight, mix)
    })
    if (targetRate !== info.sampleRate) mix = resample(mix, info.sampleRate, targetRate)
    channels.push(floatToInt16(mix))
  }
  return { sampleRate: targetRate, channels }
}

/** Walks the chunks and validates the format; throws AudioError for anything it cannot read. */
export function readWavInfo(bytes: Uint8Array, options: ParseWavOptions = {}): WavInfo {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const length = bytes.byteLength
  if (length < 12) throw new AudioError('corrupt_audio', `not a WAV file: only ${length} bytes`)
  const riff = fourCC(bytes, 0)
  const isRf64 = riff === 'RF64' || riff === 'BW64'
  if (riff !== 'RIFF' && !isRf64) throw new AudioError('unsupported_format', 'not a WAV file: no RIFF header')
  const form = fourCC(bytes, 8)
  if (form !== 'WAVE') throw new AudioError('unsupported_format', `RIFF file of type "${printable(form)}", not WAVE`)

  let fmt: FmtChunk | undefined
  let data: { offset: number; length: number; truncated: boolean } | undefined
  let ds64DataSize: number | undefined
  let p = 12
  while (p + 8 <= length) {
    const id = fourCC(bytes, p)
    const size = view.getUint32(p + 4, true)
    const body = p + 8
    const available = length - body
    if (id === 'data') {
      let declared = size
      if (isRf64 && size === 0xffffffff && ds64DataSize !== undefined) declared = ds64DataSize
      // Streaming writers leave the size at 0 or 0xFFFFFFFF when they cannot seek back: read to the end.
      const unknownSize = (size === 0xffffffff && (!isRf64 || ds64DataSize === undefined)) || (size === 0 && available > 0)
      if (unknownSize) {
        data = { offset: body, length: available, truncated: false }
        break
      }
      if (declared > available) {
        if (!options.allowTruncated) {
          throw new AudioError('corrupt_audio', `truncated WAV file: the data chunk declares ${declared} bytes but only ${available} are present`)
        }
        data = { offset: body, length: available, truncated: true }
        break
      }
      data = { offset: body, length: declared, truncated: false }
      p = body + declared + (declared & 1)
      continue
    }
    if (!/^[\x20-\x7e]{4}$/.test(id)) {
      if (fmt && data) break // trailing junk after a complete file is harmless
      throw new AudioError('corrupt_audio', `corrupt WAV file: no valid chunk header at byte ${p}`)
    }
    if (size > available) {
      if (fmt && data) break // a cut-off trailing metadata chunk does not matter
      throw new AudioError('corrupt_audio', `truncated WAV file: chunk "${printable(id)}" at byte ${p} declares ${size} bytes but only ${available} are present`)
    }
    if (id === 'fmt ') fmt = readFmt(view, body, size)
    else if (id === 'ds64' && size >= 16) ds64DataSize = view.getUint32(body + 8, true) + view.getUint32(body + 12, true) * 2 ** 32
    p = body + size + (size & 1)
  }
  if (!fmt) throw new AudioError('corrupt_audio', 'corrupt WAV file: no "fmt " chunk')
  if (!data) throw new AudioError('corrupt_audio', 'corrupt WAV file: no "data" chunk')

  const frames = Math.floor(data.length / fmt.blockAlign)
  if (frames === 0) throw new AudioError('corrupt_audio', 'WAV file holds no audio samples')
  if (frames / fmt.sampleRate > MAX_SECONDS) {
    throw new AudioError('unsupported_format', `WAV file of ${(frames / fmt.sampleRate / 3600).toFixed(1)} hours at ${fmt.sampleRate} Hz; at most ${MAX_SECONDS / 3600} hours are read`)
  }
  return {
    format: fmt.format,
    bitsPerSample: fmt.bitsPerSample,
    bytesPerSample: fmt.bytesPerSample,
    channels: fmt.channels,
    channelMask: fmt.channelMask,
    sampleRate: fmt.sampleRate,
    frames,
    dataOffset: data.offset,
    truncated: data.truncated,
  }
}

interface FmtChunk {
  format: WavSampleFormat
  channels: number
  channelMask: number
  sampleRate: number
  bitsPerSample: number
  bytesPerSample: number
  blockAlign: number
}

function readFmt(view: DataView, body: number, size: number): FmtChunk {
  if (size < 16) throw new AudioError('corrupt_audio', `corrupt WAV file: "fmt " chunk of ${size} bytes (at least 16 expected)`)
  let tag = view.getUint16(body, true)
  const channels = view.getUint16(body + 2, true)
  const sampleRate = view.getUint32(body + 4, true)
  const blockAlign = view.getUint16(body + 12, true)
  const bitsPerSample = view.getUint16(body + 14, true)
  let channelMask = 0
  if (tag === 0xfffe) {
    if (size < 40) throw new AudioError('corrupt_audio', `corrupt WAV file: WAVE_FORMAT_EXTENSIBLE "fmt " chunk of ${size} bytes (40 expected)`)
    channelMask = view.getUint32(body + 20, true)
    tag = view.getUint16(body + 24, true)
    if (!isKsDataFormatGuid(view, body + 24)) throw new AudioError('unsupported_format', 'WAV file with a non-standard sub-format GUID (not PCM or float)')
  }

  let format: WavSampleFormat
  if (tag === 1) format = 'int'
  else if (tag === 3) format = 'float'
  else if (tag === 6) format = 'alaw'
  else if (tag === 7) format = 'mulaw'
  else {
    const name = FORMAT_NAMES[tag] ?? `format tag 0x${tag.toString(16).padStart(4, '0')}`
    throw new AudioError('unsupported_format', `WAV file holds ${name} audio; only PCM, float, A-law and mu-law WAV are read directly`)
  }
  if (channels === 0) throw new AudioError('corrupt_audio', 'corrupt WAV file: 0 channels')
  if (channels > MAX_CHANNELS) throw new AudioError('unsupported_format', `WAV file with ${channels} channels (at most ${MAX_CHANNELS})`)
  if (sampleRate === 0) throw new AudioError('corrupt_audio', 'corrupt WAV file: sample rate 0')
  if (sampleRate < MIN_RATE || sampleRate > MAX_RATE) throw new AudioError('unsupported_format', `WAV sample rate ${sampleRate} Hz is outside ${MIN_RATE}-${MAX_RATE} Hz`)

  let bytesPerSample = Math.ceil(bitsPerSample / 8)
  const ok =
    (format === 'int' && bitsPerSample >= 1 && bitsPerSample <= 32) ||
    (format === 'float' && (bitsPerSample === 32 || bitsPerSample === 64)) ||
    ((format === 'alaw' || format === 'mulaw') && bitsPerSample === 8)
  if (!ok) throw new AudioError('unsupported_format', `WAV ${format === 'int' ? 'PCM' : format} audio with ${bitsPerSample} bits per sample is not supported`)
  // Some writers pad samples into a wider container than the bit depth says (24 in 32): trust blockAlign then.
  if (blockAlign > channels * bytesPerSample && blockAlign % channels === 0 && blockAlign / channels <= 4 && format === 'int') {
    bytesPerSample = blockAlign / channels
  }
  return { format, channels, channelMask, sampleRate, bitsPerSample, bytesPerSample, blockAlign: channels * bytesPerSample }
}

const KS_GUID_TAIL = [0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71]

function isKsDataFormatGuid(view: DataView, offset: number): boolean {
  return KS_GUID_TAIL.every((b, i) => view.getUint8(offset + 2 + i) === b)
}

/** Adds `weight` times one source channel into `out`, as floats where 1.0 is full scale. */
function accumulateChannel(view: DataView, info: WavInfo, channel: number, weight: number, out: Float32Array): void {
  const stride = info.channels * info.bytesPerSample
  let p = info.dataOffset + channel * info.bytesPerSample
  const n = info.frames
  if (info.format === 'float') {
    if (info.bytesPerSample === 4) {
      for (let i = 0; i < n; i++, p += stride) out[i] = out[i]! + weight * view.getFloat32(p, true)
    } else {
      for (let i = 0; i < n; i++, p += stride) out[i] = out[i]! + weight * view.getFloat64(p, true)
    }
    return
  }
  if (info.format === 'alaw' || info.format === 'mulaw') {
    const table = info.format === 'alaw' ? ALAW : MULAW
    for (let i = 0; i < n; i++, p += stride) out[i] = out[i]! + weight * table[view.getUint8(p)]!
    return
  }
  switch (info.bytesPerSample) {
    case 1: {
      const w = weight / 128
      for (let i = 0; i < n; i++, p += stride) out[i] = out[i]! + w * (view.getUint8(p) - 128)
      return
    }
    case 2: {
      const w = weight / 32768
      for (let i = 0; i < n; i++, p += stride) out[i] = out[i]! + w * view.getInt16(p, true)
      return
    }
    case 3: {
      const w = weight / 8388608
      for (let i = 0; i < n; i++, p += stride) {
        const v = view.getUint8(p) | (view.getUint8(p + 1) << 8) | (view.getInt8(p + 2) << 16)
        out[i] = out[i]! + w * v
      }
      return
    }
    default: {
      const w = weight / 2147483648
      for (let i = 0; i < n; i++, p += stride) out[i] = out[i]! + w * view.getInt32(p, true)
    }
  }
}

/** G.711 expansion tables, full scale 1.0. */
const ALAW = Float32Array.from({ length: 256 }, (_, code) => {
  const a = code ^ 0x55
  const exponent = (a >> 4) & 7
  const mantissa = a & 15
  const magnitude = exponent === 0 ? (mantissa << 4) + 8 : ((mantissa << 4) + 0x108) << (exponent - 1)
  return ((a & 0x80) !== 0 ? magnitude : -magnitude) / 32768
})

const MULAW = Float32Array.from({ length: 256 }, (_, code) => {
  const u = ~code & 0xff
  const exponent = (u >> 4) & 7
  const magnitude = ((((u & 15) << 3) + 0x84) << exponent) - 0x84
  return ((u & 0x80) !== 0 ? -magnitude : magnitude) / 32768
})

function fourCC(bytes: Uint8Array, offset: number): string {
  return String.fromCharCode(bytes[offset]!, bytes[offset + 1]!, bytes[offset + 2]!, bytes[offset + 3]!)
}

function printable(id: string): string {
  return id.replace(/[^\x20-\x7e]/g, '?')
}
