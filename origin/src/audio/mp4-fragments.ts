import { AudioError } from './pcm.js'

/**
 * A fragmented MP4 file split the way the manifest carries it: the init segment (ftyp + moov),
 * and the media byte string (every moof + mdat pair, in order) with where each fragment starts
 * and at which decode time. Anything after the last mdat (ffmpeg appends an mfra index) is
 * dropped: players find fragments by the manifest's table, not by mfra.
 */
export interface SplitMp4 {
  init: Uint8Array
  media: Uint8Array
  /** Per fragment: its byte offset in `media` and its base media decode time, in timescale units. */
  fragments: { byte: number; decodeTime: number }[]
  /** The audio track's timescale (mdhd): ffmpeg writes the sample rate. */
  timescale: number
  channels: number
  sampleRate: number
}

interface Box {
  type: string
  start: number
  end: number
  /** Offset of the payload (after size, type and a 64-bit size when there is one). */
  body: number
}

function boxes(bytes: Uint8Array, from: number, to: number): Box[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const out: Box[] = []
  let at = from
  while (at + 8 <= to) {
    let size = view.getUint32(at)
    let body = at + 8
    if (size === 1) {
      if (at + 16 > to) break
      size = Number(view.getBigUint64(at + 8))
      body = at + 16
    } else if (size === 0) size = to - at
    if (size < body - at || at + size > to) throw new AudioError('encoder_failed', `fragmented MP4: box at ${at} runs past its parent (${size} bytes)`)
    out.push({ type: String.fromCharCode(...bytes.subarray(at + 4, at + 8)), start: at, end: at + size, body })
    at += size
  }
  return out
}

function child(bytes: Uint8Array, parent: Box, ...path: string[]): Box | undefined {
  let box: Box | undefined = parent
  for (const type of path) {
    box = boxes(bytes, box.body, box.end).find((b) => b.type === type)
    if (!box) return undefined
  }
  return box
}

/** Splits ffmpeg's fragmented MP4 output (one audio track) into init, media and fragment table. */
export function splitFragmentedMp4(file: Uint8Array): SplitMp4 {
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength)
  const top = boxes(file, 0, file.length)
  const moov = top.find((b) => b.type === 'moov')
  const firstMoof = top.findIndex((b) => b.type === 'moof')
  if (!moov || firstMoof < 0 || moov.end > top[firstMoof]!.start) throw new AudioError('encoder_failed', 'fragmented MP4: no moov before the first moof')
  const mdhd = child(file, moov, 'trak', 'mdia', 'mdhd')
  const entry = child(file, moov, 'trak', 'mdia', 'minf', 'stbl', 'stsd')
  if (!mdhd || !entry) throw new AudioError('encoder_failed', 'fragmented MP4: no audio track')
  // mdhd: version(1) flags(3), then v0: created(4) modified(4) timescale(4); v1: 8 + 8 + 4.
  const timescale = view.getUint32(mdhd.body + (file[mdhd.body] === 1 ? 20 : 12))
  // stsd: version/flags(4) count(4), then the sample entry box: size(4) 'mp4a'(4) reserved(6)
  // data_ref(2) reserved(8) channelcount(2) samplesize(2) predefined(2) reserved(2) samplerate(16.16).
  const sampleEntry = entry.body + 8
  const channels = view.getUint16(sampleEntry + 24)
  const sampleRate = view.getUint32(sampleEntry + 32) >>> 16

  let lastMdat = -1
  top.forEach((b, i) => {
    if (b.type === 'mdat') lastMdat = i
  })
  const mediaStart = top[firstMoof]!.start
  const mediaEnd = top[lastMdat]?.end ?? mediaStart
  const fragments: SplitMp4['fragments'] = []
  for (const b of top) {
    if (b.type !== 'moof' || b.start >= mediaEnd) continue
    const tfdt = child(file, b, 'traf', 'tfdt')
    if (!tfdt) throw new AudioError('encoder_failed', `fragmented MP4: fragment at ${b.start} has no tfdt`)
    const decodeTime = file[tfdt.body] === 1 ? Number(view.getBigUint64(tfdt.body + 4)) : view.getUint32(tfdt.body + 4)
    fragments.push({ byte: b.start - mediaStart, decodeTime })
  }
  if (fragments.length === 0) throw new AudioError('encoder_failed', 'fragmented MP4: no fragments')
  return {
    init: file.slice(0, mediaStart),
    media: file.slice(mediaStart, mediaEnd),
    fragments,
    timescale,
    channels,
    sampleRate,
  }
}
