import { LRUCache } from 'lru-cache'
import { chunkLength } from '../../protocol/index.js'

import type { StoredChunk } from './storage.js'

export type { StoredChunk }

/** About how many bytes of consecutive chunks of one master share a slab. */
export const SLAB_BYTES = 2 * 1024 * 1024

interface Slab {
  key: string
  bytes: Buffer
  /** The chunk keys whose bytes live in this slab, dropped from the index with it. */
  keys: string[]
}

interface HeldChunk extends StoredChunk {
  slab: Slab
}

/**
 * The origin's hot chunks, held in slabs: one contiguous buffer per run of consecutive chunks of a
 * master (about SLAB_BYTES), filled chunk by chunk as each is first read, evicted a slab at a time,
 * least recently used first. Why slabs and not one buffer per chunk: node:http served chunks lying
 * in a large buffer at ~1.25x the rate of the same chunks in 32 KiB allocations of their own
 * (measured on these machines, origin/README.md). A slab counts whole against the budget from its
 * first chunk on; its pages are only touched as chunks arrive.
 */
export function createChunkMemory(maxBytes: number) {
  const index = new Map<string, HeldChunk>()
  const slabs =
    maxBytes > 0
      ? new LRUCache<string, Slab>({
          maxSize: maxBytes,
          sizeCalculation: (s) => Math.max(1, s.bytes.byteLength),
          dispose: (s) => {
            for (const k of s.keys) index.delete(k)
          },
        })
      : undefined

  /** The chunk stored under `key`, if in memory (and its slab becomes the most recently used). */
  function peek(key: string): StoredChunk | undefined {
    const held = index.get(key)
    if (held) slabs?.get(held.slab.key)
    return held
  }

  /**
   * Room for chunk `chunkIndex` of the master `masterKey`: a view to read its bytes into, and
   * `keep`, which indexes the chunk under `key` once its bytes are in. When the slab is too large
   * for the budget, or went while the read was in flight, the chunk is served but not kept.
   */
  function slot(masterKey: string, chunkIndex: number, chunkSize: number, byteLength: number) {
    const perSlab = Math.max(1, Math.floor(SLAB_BYTES / chunkSize))
    const slabIndex = Math.floor(chunkIndex / perSlab)
    const slabStart = slabIndex * perSlab * chunkSize
    const slabKey = `${masterKey}#${slabIndex}`
    const slabLength = Math.min(perSlab * chunkSize, byteLength - slabStart)
    const length = chunkLength(byteLength, chunkSize, chunkIndex)
    let slab = slabs?.get(slabKey)
    if (!slab && slabs && slabLength <= maxBytes) {
      // allocUnsafeSlow: no pool, no zero fill; the pages are touched as chunks are read in.
      slab = { key: slabKey, bytes: Buffer.allocUnsafeSlow(slabLength), keys: [] }
      slabs.set(slabKey, slab)
    }
    const offset = chunkIndex * chunkSize - slabStart
    const view = slab ? slab.bytes.subarray(offset, offset + length) : new Uint8Array(length)
    const keep = (key: string, etag: string): StoredChunk => {
      if (!slab || slabs?.peek(slabKey) !== slab) return { bytes: view, etag }
      const held: HeldChunk = { bytes: view, etag, slab }
      slab.keys.push(key)
      index.set(key, held)
      return held
    }
    return { view, keep }
  }

  return {
    peek,
    slot,
    get size() {
      return index.size
    },
  }
}

export type ChunkMemory = ReturnType<typeof createChunkMemory>
