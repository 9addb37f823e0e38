import { createCipheriv, hash } from 'node:crypto'
import { type QualityManifest, chunkCounter, toHex } from '../../protocol/index.js'

/** An encoded (not yet encrypted) audio file of one quality, with its MP3 frame map. */
export interface PlainQuality {
  bitrate: number
  bytes: Uint8Array
  sampleRate: number
  channels: number
  frameOffsets: ArrayLike<number>
  frameTimesMs: ArrayLike<number>
}

/**
 * Turns one quality into its master: the bytes encrypted with AES-128-CTR (one pass over the
 * file equals chunk-by-chunk encryption, since the counter is the byte offset / 16), the SHA-256
 * of each encrypted chunk, and the seek table. Node's crypto here, for speed; protocol/'s
 * WebCrypto code decrypts and verifies the result.
 */
export function buildMaster(plain: PlainQuality, key: Uint8Array, nonce: Uint8Array, chunkSize: number): { quality: QualityManifest; encrypted: Uint8Array } {
  const nonceHex = toHex(nonce)
  const cipher = createCipheriv('aes-128-ctr', key, chunkCounter(nonceHex, 0, chunkSize))
  const encrypted = Buffer.allocUnsafe(plain.bytes.length)
  const chunkCount = Math.ceil(plain.bytes.length / chunkSize)
  const hashes: string[] = []
  const seek: number[] = []
  let frame = 0
  for (let i = 0; i < chunkCount; i++) {
    const start = i * chunkSize
    // Chunk by chunk with one cipher (its counter runs on across calls), hashing each chunk
    // while it is still in cache: about twice as fast as one pass over the file, then hashing.
    const chunk = cipher.update(plain.bytes.subarray(start, start + chunkSize))
    hashes.push(hash('sha256', chunk, 'hex'))
    encrypted.set(chunk, start)
    // The time of the frame this chunk's first byte belongs to: a player that starts here
    // resyncs at the next frame header, so this is the earliest audio it can hear.
    while (frame + 1 < plain.frameOffsets.length && plain.frameOffsets[frame + 1]! <= start) frame++
    const t = plain.frameOffsets.length > 0 && plain.frameOffsets[frame]! <= start ? plain.frameTimesMs[frame]! : 0
    seek.push(Math.max(seek[i - 1] ?? 0, Math.round(t)))
  }
  cipher.final()
  return {
    encrypted,
    quality: {
      bitrate: plain.bitrate,
      codec: 'mp3',
      mime: 'audio/mpeg',
      sampleRate: plain.sampleRate,
      channels: plain.channels,
      byteLength: encrypted.length,
      chunkSize,
      chunkCount,
      nonce: nonceHex,
      hashes,
      seek,
    },
  }
}
