import { MPEG1_BITRATES, MPEG2_BITRATES, frameLengthAt, parseFrameHeader, type FrameHeader } from './mp3-header.js'

/**
 * The Xing/Info (and Fraunhofer VBRI) header frame: a silent first frame that carries the frame
 * count and, in LAME's extension, the encoder delay and padding that gapless players trim.
 */
export interface InfoTag {
  kind: 'Xing' | 'Info' | 'VBRI'
  frames?: number
  bytes?: number
  /** Samples the encoder put in front of the audio (decoders add their own 529 on top). */
  encoderDelay?: number
  /** Samples of silence after the audio in the last frame. */
  encoderPadding?: number
  encoder?: string
}

const XING_LENGTH = 4 + 4 + 4 + 4 + 100 + 4 // tag, flags, frames, bytes, TOC, quality
const LAME_LENGTH = 36
const LAME_CRC_OFFSET = 34 // of the 36 bytes, the last two are the CRC of everything before them
/** lamejs is LAME 3.98 ported to JavaScript; this is the version string it would write itself. */
const ENCODER = 'LAME3.98r'

/** Reads a header frame's tag, or undefined when the frame at `offset` is plain audio. */
export function readInfoTag(bytes: Uint8Array, offset: number, header: FrameHeader): InfoTag | undefined {
  const end = Math.min(bytes.length, offset + header.frameLength)
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const candidates = [offset + 4 + header.sideInfoLength + (header.crc ? 2 : 0), offset + 4 + header.sideInfoLength]
  for (const x of candidates) {
    if (x + 8 > end) continue
    const id = ascii(bytes, x, 4)
    if (id !== 'Xing' && id !== 'Info') continue
    const tag: InfoTag = { kind: id }
    const flags = view.getUint32(x + 4, false)
    let p = x + 8
    if (flags & 1) {
      if (p + 4 > end) return tag
      tag.frames = view.getUint32(p, false)
      p += 4
    }
    if (flags & 2) {
      if (p + 4 > end) return tag
      tag.bytes = view.getUint32(p, false)
      p += 4
    }
    if (flags & 4) p += 100
    if (flags & 8) p += 4
    if (p + 24 <= end) {
      const encoder = ascii(bytes, p, 9)
      if (/^(LAME|Lavf|Lavc|GOGO)/.test(encoder)) {
        tag.encoder = encoder.replace(/[^\x20-\x7e]/g, '').trim()
        const d = p + 21
        tag.encoderDelay = (bytes[d]! << 4) | (bytes[d + 1]! >> 4)
        tag.encoderPadding = ((bytes[d + 1]! & 0x0f) << 8) | bytes[d + 2]!
      }
    }
    return tag
  }
  const v = offset + 4 + 32
  if (v + 18 <= end && ascii(bytes, v, 4) === 'VBRI') {
    return { kind: 'VBRI', bytes: view.getUint32(v + 10, false), frames: view.getUint32(v + 14, false) }
  }
  return undefined
}

interface InfoFrameOptions {
  /** Header of the stream's first audio frame: the Info frame copies its version, rate and mode. */
  header: FrameHeader
  headerBytes: Uint8Array
  audioFrames: number
  /** The audio frames' bytes: their length goes in the tag, their CRC in LAME's music CRC. */
  audio: Uint8Array
  encoderDelay: number
  encoderPadding: number
}

/** Builds a LAME-style "Info" frame for a CBR stream, to be put in front of its first audio frame. */
function buildInfoFrame(options: InfoFrameOptions): Uint8Array {
  const { header } = options
  const xingOffset = 4 + header.sideInfoLength
  const needed = xingOffset + XING_LENGTH + LAME_LENGTH
  const bitrates = header.version === '1' ? MPEG1_BITRATES : MPEG2_BITRATES
  let index = header.bitrateIndex
  while (index < 14 && frameLengthAt(header.version, bitrates[index]!, header.sampleRate) < needed) index++
  const length = frameLengthAt(header.version, bitrates[index]!, header.sampleRate)
  if (length < needed) throw new RangeError(`no ${header.version} Layer III frame at ${header.sampleRate} Hz can hold an Info tag`)

  const frame = new Uint8Array(length)
  const view = new DataView(frame.buffer)
  frame[0] = options.headerBytes[0]!
  frame[1] = options.headerBytes[1]! | 1 // no CRC
  frame[2] = (options.headerBytes[2]! & 0x0d) | (index << 4) // new bitrate, no padding
  frame[3] = options.headerBytes[3]!

  let p = xingOffset
  writeAscii(frame, p, 'Info')
  view.setUint32(p + 4, 0x0f, false) // frames, bytes, TOC, quality
  view.setUint32(p + 8, options.audioFrames, false)
  const streamBytes = length + options.audio.length
  view.setUint32(p + 12, streamBytes, false)
  // A CBR stream's table of contents is a straight line: percent of time = percent of bytes.
  for (let i = 0; i < 100; i++) frame[p + 16 + i] = Math.floor((i * 256) / 100)
  view.setUint32(p + 116, 0, false)
  p += XING_LENGTH

  writeAscii(frame, p, ENCODER)
  frame[p + 9] = 0x01 // tag revision 0, CBR
  frame[p + 20] = Math.min(255, header.bitrateKbps)
  const delay = clamp12(options.encoderDelay)
  const padding = clamp12(options.encoderPadding)
  frame[p + 21] = delay >> 4
  frame[p + 22] = ((delay & 0x0f) << 4) | (padding >> 8)
  frame[p + 23] = padding & 0xff
  view.setUint32(p + 28, streamBytes, false)
  view.setUint16(p + 32, crc16(options.audio, 0, options.audio.length), false)
  view.setUint16(p + LAME_CRC_OFFSET, crc16(frame, 0, p + LAME_CRC_OFFSET), false)
  return frame
}

function clamp12(n: number): number {
  return Math.max(0, Math.min(4095, Math.round(n)))
}

/** CRC-16/ARC (reflected 0x8005, as LAME and ffmpeg use for the tag). */
const CRC_TABLE = Uint16Array.from({ length: 256 }, (_, n) => {
  let c = n
  for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xa001 : c >>> 1
  return c
})

export function crc16(bytes: Uint8Array, start: number, end: number): number {
  let crc = 0
  for (let i = start; i < end; i++) crc = (crc >>> 8) ^ CRC_TABLE[(crc ^ bytes[i]!) & 0xff]!
  return crc
}

function ascii(bytes: Uint8Array, offset: number, length: number): string {
  let s = ''
  for (let i = 0; i < length && offset + i < bytes.length; i++) s += String.fromCharCode(bytes[offset + i]!)
  return s
}

function writeAscii(bytes: Uint8Array, offset: number, text: string): void {
  for (let i = 0; i < text.length; i++) bytes[offset + i] = text.charCodeAt(i)
}

/** LAME's own delay in front of the first input sample (ENCDELAY); decoders add 529 more. */
const LAME_ENCODER_DELAY = 576

/**
 * Puts an Info frame in front of a bare CBR stream as lamejs writes it (lamejs cannot seek back to
 * write one itself), so that players and scanMp3 know the exact length of the audio.
 */
export function prependInfoFrame(stream: Uint8Array, source: { samples: number; sampleRate: number }): Uint8Array {
  const first = parseFrameHeader(stream, 0)
  if (!first) throw new RangeError('prependInfoFrame: the stream does not start with a Layer III frame')
  let frames = 0
  let p = 0
  for (;;) {
    const header = parseFrameHeader(stream, p)
    if (!header || p + header.frameLength > stream.length) break
    frames++
    p += header.frameLength
  }
  // lamejs may pick a lower output rate than the input's for low bitrates; count in output samples.
  const samples = Math.round((source.samples * first.sampleRate) / source.sampleRate)
  const padding = frames * first.samplesPerFrame - LAME_ENCODER_DELAY - samples
  const info = buildInfoFrame({
    header: first,
    headerBytes: stream.subarray(0, 4),
    audioFrames: frames,
    audio: stream.subarray(0, p),
    encoderDelay: LAME_ENCODER_DELAY,
    encoderPadding: padding,
  })
  const out = new Uint8Array(info.length + stream.length)
  out.set(info, 0)
  out.set(stream, info.length)
  return out
}
