/** MPEG audio Layer III frame headers: the four bytes in front of every frame. */

export type MpegVersion = '1' | '2' | '2.5'

export interface FrameHeader {
  version: MpegVersion
  /** As in the header: 0 stereo, 1 joint stereo, 2 dual channel, 3 mono. */
  channelMode: number
  channels: 1 | 2
  crc: boolean
  bitrateKbps: number
  bitrateIndex: number
  sampleRate: number
  sampleRateIndex: number
  padding: boolean
  /** Bytes from the start of this header to the start of the next one. */
  frameLength: number
  samplesPerFrame: number
  /** Side information bytes after the header (and its CRC, if any). */
  sideInfoLength: number
}

export const MPEG1_BITRATES = [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320] as const
export const MPEG2_BITRATES = [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160] as const
const SAMPLE_RATES: Record<MpegVersion, readonly number[]> = {
  '1': [44100, 48000, 32000],
  '2': [22050, 24000, 16000],
  '2.5': [11025, 12000, 8000],
}

export function mpegVersionForRate(sampleRate: number): MpegVersion | undefined {
  for (const version of ['1', '2', '2.5'] as const) if (SAMPLE_RATES[version].includes(sampleRate)) return version
  return undefined
}

export function bitratesFor(version: MpegVersion): readonly number[] {
  return (version === '1' ? MPEG1_BITRATES : MPEG2_BITRATES).slice(1)
}

/** Reads a Layer III header at `offset`; undefined if those bytes are not one (free format included). */
export function parseFrameHeader(bytes: Uint8Array, offset: number): FrameHeader | undefined {
  if (offset < 0 || offset + 4 > bytes.length) return undefined
  const b0 = bytes[offset]!
  const b1 = bytes[offset + 1]!
  const b2 = bytes[offset + 2]!
  const b3 = bytes[offset + 3]!
  if (b0 !== 0xff || (b1 & 0xe0) !== 0xe0) return undefined
  const versionBits = (b1 >> 3) & 3
  if (versionBits === 1) return undefined // reserved
  if (((b1 >> 1) & 3) !== 1) return undefined // not Layer III
  const bitrateIndex = b2 >> 4
  const sampleRateIndex = (b2 >> 2) & 3
  if (bitrateIndex === 0 || bitrateIndex === 15 || sampleRateIndex === 3) return undefined
  if ((b3 & 3) === 2) return undefined // reserved emphasis: never written, so a good garbage filter
  const version: MpegVersion = versionBits === 3 ? '1' : versionBits === 2 ? '2' : '2.5'
  const mpeg1 = version === '1'
  const bitrateKbps = (mpeg1 ? MPEG1_BITRATES : MPEG2_BITRATES)[bitrateIndex]!
  const sampleRate = SAMPLE_RATES[version][sampleRateIndex]!
  const padding = ((b2 >> 1) & 1) === 1
  const channelMode = b3 >> 6
  const channels = channelMode === 3 ? 1 : 2
  const crc = (b1 & 1) === 0
  const frameLength = Math.floor(((mpeg1 ? 144000 : 72000) * bitrateKbps) / sampleRate) + (padding ? 1 : 0)
  return {
    version,
    channelMode,
    channels,
    crc,
    bitrateKbps,
    bitrateIndex,
    sampleRate,
    sampleRateIndex,
    padding,
    frameLength,
    samplesPerFrame: mpeg1 ? 1152 : 576,
    sideInfoLength: mpeg1 ? (channels === 1 ? 17 : 32) : channels === 1 ? 9 : 17,
  }
}

/** Frames of one stream share version, rate and channel count; bitrate and padding may vary. */
export function sameStream(a: FrameHeader, b: FrameHeader): boolean {
  return a.version === b.version && a.sampleRateIndex === b.sampleRateIndex && a.channels === b.channels
}

/** Frame length for a given header layout at another bitrate index (no padding). */
export function frameLengthAt(version: MpegVersion, bitrateKbps: number, sampleRate: number): number {
  return Math.floor(((version === '1' ? 144000 : 72000) * bitrateKbps) / sampleRate)
}
