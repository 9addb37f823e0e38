import { createCipheriv, hash } from 'node:crypto'
import { type QualityManifest, chunkCounter, fragmentSeekTable, toBase64Url, toHex } from '../../protocol/index.js'

interface PlainCommon {
  bitrate: number
  /** The encoded audio (for MP4, the fragments after the init segment); buildMaster encrypts it in place. */
  bytes: Uint8Array
  sampleRate: number
  channels: number
}

/** An encoded (not yet encrypted) quality: an MP3 file with its frame map, or fragmented MP4. */
export type PlainQuality =
  | (PlainCommon & { codec: 'mp3'; frameOffsets: ArrayLike<number>; frameTimesMs: ArrayLike<number> })
  | (PlainCommon & { codec: 'aac'; codecs: string; init: Uint8Array; fragments: [number, number][]; delay: number; samples: number })

/**
 * How many bytes one cipher call encrypts. Each call returns a new buffer, freed at the next
 * garbage collection; at 16 KiB those come back from the allocator already mapped, while 128 KiB
 * outputs cost fresh page faults every time (perf stat: 4x the faults, 0.55 against 0.73 GB/s).
 */
const PIECE_BYTES = 16 * 1024

/**
 * Turns one quality into its master: the bytes encrypted with AES-128-CTR (the counter is the byte
 * offset / 16, so one cipher run over the file equals chunk-by-chunk encryption), the SHA-256 of
 * each encrypted chunk, and the seek table. Node's crypto here, for speed; protocol/'s WebCrypto
 * code decrypts and verifies the result.
 *
 * The encryption is in place: `plain.bytes` becomes the master, and the caller hands its buffer
 * over. Each piece of ciphertext goes back where its plaintext was, and each chunk is hashed
 * right after, while it is still in cache; a new file-sized buffer would fault in every page
 * (`npm run bench -- origin` measures this path).
 */
export function buildMaster(plain: PlainQuality, key: Uint8Array, nonce: Uint8Array, chunkSize: number): { quality: QualityManifest; encrypted: Uint8Array } {
  const nonceHex = toHex(nonce)
  const cipher = createCipheriv('aes-128-ctr', key, chunkCounter(nonceHex, 0, chunkSize))
  const bytes = plain.bytes
  const chunkCount = Math.ceil(bytes.length / chunkSize)
  const piece = Math.min(PIECE_BYTES, chunkSize)
  const hashes: string[] = []
  for (let start = 0; start < bytes.length; start += chunkSize) {
    const end = Math.min(start + chunkSize, bytes.length)
    for (let at = start; at < end; at += piece) bytes.set(cipher.update(bytes.subarray(at, Math.min(at + piece, end))), at)
    hashes.push(hash('sha256', bytes.subarray(start, end), 'hex'))
  }
  cipher.final()
  const common = { bitrate: plain.bitrate, sampleRate: plain.sampleRate, channels: plain.channels, byteLength: bytes.length, chunkSize, chunkCount, nonce: nonceHex, hashes }
  if (plain.codec === 'aac') {
    const { codecs, fragments, delay, samples } = plain
    const seek = fragmentSeekTable(fragments, chunkSize, chunkCount)
    return { encrypted: bytes, quality: { ...common, codec: 'aac', mime: 'audio/mp4', codecs, init: toBase64Url(plain.init), fragments, delay, samples, seek } }
  }
  const seek: number[] = []
  let frame = 0
  for (let i = 0; i < chunkCount; i++) {
    const start = i * chunkSize
    // The time of the frame this chunk's first byte belongs to: a player that starts here
    // resyncs at the next frame header, so this is the earliest audio it can hear.
    while (frame + 1 < plain.frameOffsets.length && plain.frameOffsets[frame + 1]! <= start) frame++
    const t = plain.frameOffsets.length > 0 && plain.frameOffsets[frame]! <= start ? plain.frameTimesMs[frame]! : 0
    seek.push(Math.max(seek[i - 1] ?? 0, Math.round(t)))
  }
  return { encrypted: bytes, quality: { ...common, codec: 'mp3', mime: 'audio/mpeg', seek } }
}
