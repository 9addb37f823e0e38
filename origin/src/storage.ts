import { LRUCache } from 'lru-cache'
import { type Manifest, type QualityManifest, type SignedManifest, findQuality, fromBase64Url, isTrackId, isVersion } from '../../protocol/index.js'

/**
 * The storage contract for masters, whatever holds them (a directory on one machine, an R2
 * bucket). Pure: no node:* import, so the Node origin and the origin Worker both build on it.
 *
 * The rule every implementation keeps: a track's `current` pointer names only a complete
 * version. A version's objects are written first, its manifest last among them (a manifest's
 * presence means every object it names is in place), and the pointer after that. So a crash at
 * any moment leaves either the old track or the new one, never half of one, and versions are
 * immutable once written: caches of them never go stale.
 */

/** One line of the catalog (GET /v1/tracks). */
export interface CatalogEntry {
  trackId: string
  version: string
  title: string
  artist: string
  album: string
  durationMs: number
  bitrates: number[]
  createdAt: string
}

interface StoredManifest {
  doc: SignedManifest
  /** The exact JSON served, so the ETag is stable. */
  body: string
}

/** An encrypted chunk: its bytes and its ETag (the quoted SHA-256 the manifest lists). */
export interface StoredChunk {
  bytes: Uint8Array
  etag: string
}

/** The read side: what the HTTP API serves from. */
export interface MasterReader {
  /** The published version of a track; undefined for an unknown or malformed id. */
  currentVersion(trackId: string): Promise<string | undefined>
  /** One version's signed manifest; undefined when that version is not (completely) there. */
  manifest(trackId: string, version: string): Promise<StoredManifest | undefined>
  /** Every track whose pointer names a complete version, sorted by id. */
  catalog(): Promise<CatalogEntry[]>
  /** The encrypted chunk, or undefined when the track, version, quality or index does not exist. */
  chunk(trackId: string, version: string, bitrate: number, index: number): Promise<StoredChunk | undefined>
  /**
   * The init segment of an MP4 quality (undefined for MP3). It travels inside the signed
   * manifest, so it is published in the same atomic step and covered by the same signature.
   */
  init(trackId: string, version: string, bitrate: number): Promise<Uint8Array | undefined>
  /**
   * A chunk already in memory, by its path below CHUNK_PREFIX exactly as chunkPath() spells it.
   * Synchronous so a hot chunk is answered without waiting a tick; a store without memory omits it.
   */
  peekChunk?(path: string): StoredChunk | undefined
}

/** Track keys, read by the key service. Never in the same place as the chunks they open. */
export interface TrackKeyReader {
  trackKey(trackId: string, version: string): Promise<string | undefined>
}

/** Where a publisher puts a version's key, before the version becomes current. */
export interface TrackKeyWriter {
  putTrackKey(trackId: string, version: string, keyB64: string): Promise<void>
}

/** What an ingest hands to publish: every object of one version, complete in memory. */
export interface StagedVersion {
  manifest: Manifest
  signed: SignedManifest
  keyB64: string
  /** bitrate -> encrypted bytes */
  masters: Map<number, Uint8Array>
}

/** The write side: makes a staged version current, atomically (see the rule above). */
export interface MasterPublisher {
  publish(staged: StagedVersion): Promise<void>
}

/**
 * What a backend must provide for createMasterReader: raw reads, no caching, no parsing.
 * Each returns undefined for "not there"; real failures (I/O, network) throw.
 */
export interface MasterObjects {
  /** Names that may be track ids (the reader filters them). */
  listTrackIds(): Promise<string[]>
  /** The text of a track's `current` pointer. */
  readPointer(trackId: string): Promise<string | undefined>
  /** The text of one version's manifest.json. */
  readManifest(trackId: string, version: string): Promise<string | undefined>
  /** Chunk `index` of quality `q` (already checked to exist in the manifest). */
  readChunk(trackId: string, version: string, q: QualityManifest, index: number): Promise<StoredChunk | undefined>
  /**
   * The whole catalog in one read, for a backend that keeps an index of its current versions
   * (R2: one object instead of a read per track). Without it the reader lists and reads pointers.
   */
  readCatalog?(): Promise<CatalogEntry[]>
}

export interface MasterReaderOptions {
  /** How long a read of `current` and of the catalog listing is reused (ms): ingests by another process show up after this. */
  refreshMs?: number
  now?: () => number
}

export function catalogEntry(m: Manifest): CatalogEntry {
  return {
    trackId: m.trackId,
    version: m.version,
    title: m.title,
    artist: m.artist,
    album: m.album,
    durationMs: m.durationMs,
    bitrates: m.qualities.map((q) => q.bitrate),
    createdAt: m.createdAt,
  }
}

/** The object names every backend uses below its root (a directory, a bucket): one layout to reason about. */
export const LAYOUT = {
  pointer: (trackId: string) => `tracks/${trackId}/current`,
  manifest: (trackId: string, version: string) => `tracks/${trackId}/${version}/manifest.json`,
  master: (trackId: string, version: string, bitrate: number) => `tracks/${trackId}/${version}/${bitrate}.enc`,
} as const

/**
 * The caching and validation shared by every backend: ids are checked before any name is
 * built from them (no read can leave the tracks tree), pointers are re-read after refreshMs,
 * parsed manifests are kept (versions are immutable), and concurrent reads of one chunk share
 * one backend read (edges ask for a new track's chunks all at once).
 */
export function createMasterReader(objects: MasterObjects, options: MasterReaderOptions = {}): Required<Omit<MasterReader, 'peekChunk'>> {
  const refreshMs = options.refreshMs ?? 1000
  const now = options.now ?? Date.now
  const currents = new Map<string, { at: number; version: string | undefined }>()
  // Versions are immutable, so a parsed manifest never goes stale; the bound only caps memory.
  const manifests = new LRUCache<string, StoredManifest>({ max: 2048 })
  const reading = new Map<string, Promise<StoredChunk | undefined>>()
  let listing: { at: number; entries: Promise<CatalogEntry[]> } | undefined

  async function currentVersion(trackId: string): Promise<string | undefined> {
    if (!isTrackId(trackId)) return undefined
    // A backend with an index caches it itself: the pointer and the catalog then come from one
    // snapshot, so the catalog never lists a track whose manifest route still says 404.
    if (objects.readCatalog) {
      const text = (await objects.readPointer(trackId))?.trim()
      return isVersion(text) ? text : undefined
    }
    const cached = currents.get(trackId)
    if (cached && now() - cached.at < refreshMs) return cached.version
    const text = (await objects.readPointer(trackId))?.trim()
    const version = isVersion(text) ? text : undefined
    currents.set(trackId, { at: now(), version })
    if (currents.size > 10_000) currents.clear()
    return version
  }

  async function manifest(trackId: string, version: string): Promise<StoredManifest | undefined> {
    if (!isTrackId(trackId) || !isVersion(version)) return undefined
    const key = `${trackId}/${version}`
    const hit = manifests.get(key)
    if (hit) return hit
    const body = await objects.readManifest(trackId, version)
    if (body === undefined) return undefined
    const stored = { doc: JSON.parse(body) as SignedManifest, body }
    manifests.set(key, stored)
    return stored
  }

  async function buildListing(): Promise<CatalogEntry[]> {
    if (objects.readCatalog) return (await objects.readCatalog()).filter((e) => isTrackId(e.trackId)).sort((a, b) => (a.trackId < b.trackId ? -1 : 1))
    const ids = (await objects.listTrackIds()).filter(isTrackId).sort()
    // A few reads at once: enough to hide latency, few enough to hold no more than a handful of
    // file descriptors or subrequests however large the catalog.
    const entries = await mapLimit(ids, 8, async (id) => {
      const version = await currentVersion(id)
      const m = version ? (await manifest(id, version))?.doc.manifest : undefined
      return m ? catalogEntry(m) : undefined
    })
    return entries.filter((e): e is CatalogEntry => e !== undefined)
  }

  function catalog(): Promise<CatalogEntry[]> {
    // An index is cached by its backend, once for the pointers and the catalog alike: a second
    // cache here, on its own clock, could list an old version the manifest route no longer serves.
    if (objects.readCatalog) return buildListing()
    if (!listing || now() - listing.at >= refreshMs) {
      const entries = buildListing()
      listing = { at: now(), entries }
      // A failed listing is not kept: the next request tries again.
      entries.catch(() => {
        if (listing?.entries === entries) listing = undefined
      })
    }
    return listing.entries
  }

  function chunk(trackId: string, version: string, bitrate: number, index: number): Promise<StoredChunk | undefined> {
    const key = `${trackId}/${version}/${bitrate}/${index}`
    let pending = reading.get(key)
    if (!pending) {
      pending = (async () => {
        const m = (await manifest(trackId, version))?.doc.manifest
        const q = m && findQuality(m, bitrate)
        if (!q || !Number.isInteger(index) || index < 0 || index >= q.chunkCount) return undefined
        return objects.readChunk(trackId, version, q, index)
      })().finally(() => reading.delete(key))
      reading.set(key, pending)
    }
    return pending
  }

  async function init(trackId: string, version: string, bitrate: number): Promise<Uint8Array | undefined> {
    const m = (await manifest(trackId, version))?.doc.manifest
    const q = m && findQuality(m, bitrate)
    return q?.codec === 'aac' ? fromBase64Url(q.init) : undefined
  }

  return { currentVersion, manifest, catalog, chunk, init }
}

async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length)
  let next = 0
  const worker = async () => {
    while (next < items.length) {
      const i = next++
      out[i] = await fn(items[i]!)
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
  return out
}
