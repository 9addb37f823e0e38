import { LRUCache } from 'lru-cache'
import type { CacheStorageBackend } from './types.js'

/**
 * The listener's local cache of encrypted chunks (and signed manifests), LRU by bytes over a
 * storage backend. The index lives in memory (lru-cache); evicting from it deletes the bytes.
 * Entries are only ever verified chunks: the player checks before it puts.
 */
export interface ChunkCacheOptions {
  storage: CacheStorageBackend
  maxBytes: number
}

export const chunkKey = (trackId: string, version: string, bitrate: number, index: number) => `c/${trackId}/${version}/${bitrate}/${index}`
export const manifestKey = (trackId: string) => `m/${trackId}.json`
/** A track key's lease (core/key-lease.ts): never a `c/` entry, so never served to a peer. */
export const keyLeaseKey = (trackId: string, version: string) => `k/${trackId}/${version}.key`
/** A chunk key's (track, version, quality) prefix. */
const qualityOf = (key: string) => key.slice(0, key.lastIndexOf('/'))

/** A (track, version, quality) of which the cache holds chunks. */
interface CachedQuality {
  trackId: string
  version: string
  bitrate: number
}

/** The local cache: verified chunks and signed manifests by key, least recently used out first. */
export interface ChunkCache {
  /** The bytes under `key` (marking them recently used), or undefined. */
  get(key: string): Promise<Uint8Array | undefined>
  has(key: string): boolean
  /**
   * Stores a verified chunk; resolves true once it is held. A write that fails (a full disk, a
   * directory removed under us) leaves it uncached: the cache is a copy, never worth a crash.
   */
  put(key: string, bytes: Uint8Array): Promise<boolean>
  /** Takes no more writes and resolves when those under way are done: then nothing touches the storage. */
  close(): Promise<void>
  delete(key: string): Promise<void>
  /** The (track, version, quality) triples with chunks held, most recently used first. */
  recentQualities(limit: number): CachedQuality[]
  /** Chunk indices held for one track version and quality. */
  heldChunks(trackId: string, version: string, bitrate: number): ReadonlySet<number>
  /** Bytes held in all. */
  readonly bytes: number
  readonly entries: number
}

export async function createChunkCache(options: ChunkCacheOptions): Promise<ChunkCache> {
  const { storage } = options
  // Which chunks of each (track, version, quality) are held: what a peer's bitfield says.
  const held = new Map<string, Set<number>>()
  const note = (key: string, present: boolean) => {
    if (!key.startsWith('c/')) return
    const quality = qualityOf(key)
    const index = Number(key.slice(quality.length + 1))
    let set = held.get(quality)
    if (present) {
      if (!set) {
        set = new Set()
        held.set(quality, set)
      }
      set.add(index)
    } else {
      set?.delete(index)
      if (set?.size === 0) held.delete(quality)
    }
  }
  const index = new LRUCache<string, number>({
    maxSize: Math.max(1, options.maxBytes),
    sizeCalculation: (size) => Math.max(1, size),
    dispose: (_size, key, reason) => {
      if (reason === 'set') return
      note(key, false)
      void storage.delete(key).catch(() => {})
    },
  })
  let closed = false
  const writing = new Set<Promise<boolean>>()
  // Chunks on their way to storage count as held and are read from memory: a track replayed the
  // moment it ends would otherwise fetch its last chunk again.
  const pending = new Map<string, Uint8Array>()
  for (const entry of await storage.list()) {
    if (entry.size > options.maxBytes) {
      await storage.delete(entry.key)
      continue
    }
    index.set(entry.key, entry.size)
    note(entry.key, true)
  }

  return {
    async get(key) {
      const inFlight = pending.get(key)
      if (inFlight) return inFlight
      if (!index.has(key)) return undefined
      index.get(key) // marks it recently used
      const bytes = await storage.get(key)
      if (!bytes) {
        index.delete(key)
        return undefined
      }
      return bytes
    },
    has: (key) => index.has(key) || pending.has(key),
    async put(key, bytes) {
      if (closed || bytes.byteLength > options.maxBytes) return false
      pending.set(key, bytes)
      // Held from now on, for a playback's list of cached chunks as for a peer's bitfield.
      note(key, true)
      const write = storage.put(key, bytes).then(
        () => {
          index.set(key, bytes.byteLength)
          note(key, true)
          return true
        },
        () => {
          if (!index.has(key) && pending.get(key) === bytes) note(key, false)
          return false
        },
      )
      writing.add(write)
      void write.finally(() => {
        writing.delete(write)
        if (pending.get(key) === bytes) pending.delete(key)
      })
      return write
    },
    async close() {
      closed = true
      await Promise.all(writing)
    },
    async delete(key) {
      pending.delete(key)
      // Out of the index, its dispose forgets it; a chunk only on its way is forgotten here.
      if (!index.delete(key)) note(key, false)
    },
    recentQualities(limit) {
      const out: CachedQuality[] = []
      const seen = new Set<string>()
      for (const key of index.keys()) {
        if (out.length >= limit) break
        if (!key.startsWith('c/')) continue
        const quality = qualityOf(key)
        if (seen.has(quality)) continue
        seen.add(quality)
        const [, trackId, version, bitrate] = quality.split('/')
        out.push({ trackId: trackId!, version: version!, bitrate: Number(bitrate) })
      }
      return out
    },
    heldChunks(trackId, version, bitrate) {
      return held.get(`c/${trackId}/${version}/${bitrate}`) ?? new Set()
    },
    get bytes() {
      return index.calculatedSize
    },
    get entries() {
      return index.size
    },
  }
}
