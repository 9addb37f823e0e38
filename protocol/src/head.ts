import { ProtocolError } from './errors.js'
import type { QualityManifest } from './manifest.js'

/**
 * A track's head: its current signed manifest and the first chunk(s) of one quality, in one
 * answer (`GET /v1/tracks/{id}/head[?kbps=N]`), so that a cold play asks one question of the edge
 * instead of two in a row (the manifest, then the chunk its version names). Nothing in it is
 * trusted as it comes: the manifest is verified against the origin's key and every chunk against
 * the manifest's hash, by the edge before it keeps them and by the player before it plays them.
 *
 * On the wire: a 4-byte big-endian length, a JSON header of that many bytes
 * (`{"bitrate", "chunks": [byte lengths, from chunk 0], "manifest": <the signed manifest>}`),
 * then the chunks' bytes one after the other.
 */
export const HEAD_MIME = 'application/vnd.chorus.head'

/** The longest header accepted (a signed manifest of a long track at three qualities is ~100 KiB). */
const MAX_HEADER_BYTES = 4 * 1024 * 1024

export function headPath(trackId: string, kbps?: number): string {
  return kbps === undefined ? `/v1/tracks/${trackId}/head` : `/v1/tracks/${trackId}/head?kbps=${kbps}`
}

/**
 * The quality a head carries, by the player's own rule for a first play ('auto' in the SDK):
 * the highest bitrate at or under `kbps` (the lowest when none is), and without a hint the
 * middle one (no throughput measured yet). `qualities` sorted by bitrate, lowest first.
 */
export function headQuality<Q extends { bitrate: number }>(qualities: readonly Q[], kbps: number | undefined): Q {
  if (qualities.length === 0) throw new ProtocolError('invalid_manifest', 'a manifest without qualities')
  if (kbps === undefined) return qualities[Math.floor((qualities.length - 1) / 2)]!
  return [...qualities].reverse().find((q) => q.bitrate <= kbps) ?? qualities[0]!
}

/**
 * How many chunks from chunk 0 the first audio needs: MP3 plays from its first chunk; an MP4
 * stream plays whole fragments, so the chunks up to the end of the first fragment.
 */
export function headChunkCount(quality: QualityManifest): number {
  if (quality.codec !== 'aac') return Math.min(1, quality.chunkCount)
  const firstEnds = quality.fragments[1]?.[1] ?? quality.byteLength
  return Math.max(1, Math.min(quality.chunkCount, Math.ceil(firstEnds / quality.chunkSize)))
}

/** The `kbps` query of a head request: a whole number 1-999, or none. */
export function parseHeadKbps(text: string | undefined | null): number | undefined {
  if (text === undefined || text === null || text === '') return undefined
  if (!/^[1-9][0-9]{0,2}$/.test(text)) throw new ProtocolError('bad_request', 'kbps must be a whole number from 1 to 999')
  return Number(text)
}

/** Builds a head answer's body; `manifestJson` is the signed manifest document as the origin serves it. */
export function encodeHead(manifestJson: string, bitrate: number, chunks: readonly Uint8Array[]): Uint8Array<ArrayBuffer> {
  const header = new TextEncoder().encode(`{"bitrate":${bitrate},"chunks":[${chunks.map((c) => c.byteLength).join(',')}],"manifest":${manifestJson}}`)
  const out = new Uint8Array(4 + header.byteLength + chunks.reduce((n, c) => n + c.byteLength, 0))
  new DataView(out.buffer).setUint32(0, header.byteLength, false)
  out.set(header, 4)
  let at = 4 + header.byteLength
  for (const c of chunks) {
    out.set(c, at)
    at += c.byteLength
  }
  return out
}

/** A head answer taken apart, nothing verified yet. */
export interface DecodedHead {
  bitrate: number
  /** The signed manifest document, to be verified. */
  manifest: unknown
  /** Chunks 0, 1, ... of that quality. */
  chunks: Uint8Array<ArrayBuffer>[]
}

/** Takes a head answer apart; `bad_request` when it is not one. */
export function decodeHead(body: Uint8Array): DecodedHead {
  const bad = (why: string) => new ProtocolError('bad_request', `not a head answer: ${why}`)
  if (body.byteLength < 4) throw bad('too short')
  const length = new DataView(body.buffer, body.byteOffset, body.byteLength).getUint32(0, false)
  if (length > MAX_HEADER_BYTES || 4 + length > body.byteLength) throw bad('bad header length')
  let header: { bitrate?: unknown; chunks?: unknown; manifest?: unknown }
  try {
    header = JSON.parse(new TextDecoder().decode(body.subarray(4, 4 + length)))
  } catch {
    throw bad('the header is not JSON')
  }
  const { bitrate, chunks, manifest } = header ?? {}
  if (typeof bitrate !== 'number' || !Array.isArray(chunks) || !chunks.every((n) => Number.isInteger(n) && n >= 0)) throw bad('bad header')
  const lengths = chunks as number[]
  if (4 + length + lengths.reduce((a, b) => a + b, 0) !== body.byteLength) throw bad('the chunks do not add up to the body')
  const out: Uint8Array<ArrayBuffer>[] = []
  let at = 4 + length
  for (const n of lengths) {
    out.push(body.slice(at, at + n))
    at += n
  }
  return { bitrate, manifest, chunks: out }
}
