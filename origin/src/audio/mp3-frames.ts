import { AudioError } from './pcm.js'
import { parseFrameHeader, sameStream, type FrameHeader, type MpegVersion } from './mp3-header.js'
import { readInfoTag, type InfoTag } from './info-frame.js'

export interface Mp3Scan {
  sampleRate: number
  channels: number
  /** Average over the audio frames, rounded. */
  bitrateKbps: number
  /** Playing time: frames times samples per frame, less the encoder delay and padding when a LAME tag gives them. */
  durationMs: number
  /** Byte offset of each audio frame (the Xing/Info/VBRI frame is not one). */
  frameOffsets: Uint32Array
  /** Start time of each audio frame in the undelayed frame timeline (frame i starts at i * samplesPerFrame). */
  frameTimesMs: Float64Array
  /** Offset of the first MPEG frame, after any ID3v2 tag and junk; the Info frame when there is one. */
  audioStart: number
  /** End of the last complete audio frame. */
  audioEnd: number
  version: MpegVersion
  samplesPerFrame: number
  /** The Xing/Info/VBRI header frame, when the stream starts with one. */
  infoFrame?: { offset: number; length: number; tag: InfoTag }
  /** Bytes skipped between frames while resynchronising (garbage, a cut-off frame). */
  skippedBytes: number
}

/** Consecutive frames that must chain up before the scanner believes it found a stream. */
const LOCK_FRAMES = 3

/** Indexes the Layer III frames of an MP3 file without decoding them. */
export function scanMp3(bytes: Uint8Array): Mp3Scan {
  const start = skipId3v2(bytes)
  const end = endOfAudio(bytes, start)
  const lockAt = findLock(bytes, start, end, {})
  if (lockAt === undefined) {
    throw new AudioError('corrupt_audio', `not a playable MP3: no run of ${LOCK_FRAMES} consecutive MPEG Layer III frames found`)
  }
  const first = parseFrameHeader(bytes, lockAt)!

  const offsets: number[] = []
  let bitrateSum = 0
  let skippedBytes = lockAt - start
  let infoFrame: Mp3Scan['infoFrame']
  const tag = readInfoTag(bytes, lockAt, first)
  let p = lockAt
  if (tag) {
    infoFrame = { offset: lockAt, length: first.frameLength, tag }
    p += first.frameLength
  }
  let audioEnd = p
  while (p + 4 <= end) {
    const header = parseFrameHeader(bytes, p)
    if (header && sameStream(first, header) && p + header.frameLength <= end) {
      offsets.push(p)
      bitrateSum += header.bitrateKbps
      p += header.frameLength
      audioEnd = p
      continue
    }
    // A header whose frame runs past the end is a cut-off last frame: nothing to resync to.
    if (header && sameStream(first, header) && p + header.frameLength > end) break
    const next = findLock(bytes, p + 1, end, { like: first, acceptTail: true })
    if (next === undefined) break
    skippedBytes += next - p
    p = next
  }
  if (offsets.length < LOCK_FRAMES - (infoFrame ? 1 : 0)) {
    throw new AudioError('corrupt_audio', `not a playable MP3: only ${offsets.length} audio frames`)
  }

  const spf = first.samplesPerFrame
  const frameTimesMs = new Float64Array(offsets.length)
  for (let i = 0; i < offsets.length; i++) frameTimesMs[i] = (i * spf * 1000) / first.sampleRate
  let samples = offsets.length * spf
  if (tag?.encoderDelay !== undefined && tag.encoderPadding !== undefined) {
    const trimmed = samples - tag.encoderDelay - tag.encoderPadding
    if (trimmed > 0) samples = trimmed
  }
  return {
    sampleRate: first.sampleRate,
    channels: first.channels,
    bitrateKbps: Math.round(bitrateSum / offsets.length),
    durationMs: (samples * 1000) / first.sampleRate,
    frameOffsets: Uint32Array.from(offsets),
    frameTimesMs,
    audioStart: lockAt,
    audioEnd,
    version: first.version,
    samplesPerFrame: spf,
    ...(infoFrame ? { infoFrame } : {}),
    skippedBytes,
  }
}

/** True when the bytes start like an MP3 file: an ID3v2 tag or a Layer III frame header. */
export function looksLikeMp3(bytes: Uint8Array): boolean {
  if (bytes.length >= 10 && bytes[0] === 0x49 && bytes[1] === 0x44 && bytes[2] === 0x33 && bytes[3]! < 0xff && bytes[4]! < 0xff) return true
  return parseFrameHeader(bytes, 0) !== undefined
}

/**
 * First offset at or after `from` where LOCK_FRAMES frames of one stream chain up, optionally of
 * the same stream as `like`. When resynchronising (`acceptTail`), a shorter chain that ends exactly
 * at `end` counts too, so the last frames after a damaged spot are not lost.
 */
function findLock(bytes: Uint8Array, from: number, end: number, opts: { like?: FrameHeader; acceptTail?: boolean }): number | undefined {
  const { like, acceptTail = false } = opts
  for (let p = from; p + 4 <= end; p++) {
    if (bytes[p] !== 0xff) continue
    const header = parseFrameHeader(bytes, p)
    if (!header || (like && !sameStream(like, header))) continue
    let q = p + header.frameLength
    let count = 1
    while (count < LOCK_FRAMES && q + 4 <= end) {
      const next = parseFrameHeader(bytes, q)
      if (!next || !sameStream(header, next)) break
      q += next.frameLength
      count++
    }
    const chained = count >= LOCK_FRAMES && q <= end
    if (chained || (acceptTail && q === end)) return p
  }
  return undefined
}

/** Offset after any ID3v2 tags at the start (several may follow each other). */
function skipId3v2(bytes: Uint8Array): number {
  let p = 0
  while (p + 10 <= bytes.length && bytes[p] === 0x49 && bytes[p + 1] === 0x44 && bytes[p + 2] === 0x33) {
    const size = syncsafe(bytes, p + 6)
    if (size === undefined || bytes[p + 3] === 0xff) break
    const footer = (bytes[p + 5]! & 0x10) !== 0 ? 10 : 0
    p = Math.min(bytes.length, p + 10 + size + footer)
  }
  return p
}

/** End of the frame data, before ID3v1, Lyrics3v2 and APEv2 tags at the end of the file. */
function endOfAudio(bytes: Uint8Array, start: number): number {
  let end = bytes.length
  for (let changed = true; changed; ) {
    changed = false
    if (end - 128 >= start && ascii(bytes, end - 128, 3) === 'TAG') {
      end -= 128
      changed = true
    }
    if (end - 32 >= start && ascii(bytes, end - 32, 8) === 'APETAGEX') {
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
      const size = view.getUint32(end - 32 + 12, true) // footer + items
      const hasHeader = (view.getUint32(end - 32 + 20, true) & 0x80000000) !== 0
      const total = size + (hasHeader ? 32 : 0)
      if (total >= 32 && end - total >= start) {
        end -= total
        changed = true
      }
    }
    if (end - 15 >= start && ascii(bytes, end - 9, 9) === 'LYRICS200') {
      const size = Number(ascii(bytes, end - 15, 6))
      if (Number.isInteger(size) && end - 15 - size >= start) {
        end -= 15 + size
        changed = true
      }
    }
  }
  return end
}

function syncsafe(bytes: Uint8Array, offset: number): number | undefined {
  let n = 0
  for (let i = 0; i < 4; i++) {
    const b = bytes[offset + i]!
    if (b & 0x80) return undefined
    n = n * 128 + b
  }
  return n
}

function ascii(bytes: Uint8Array, offset: number, length: number): string {
  let s = ''
  for (let i = 0; i < length; i++) s += String.fromCharCode(bytes[offset + i] ?? 0)
  return s
}
