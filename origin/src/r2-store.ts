import { isTrackId } from '../../protocol/index.js'
import {
  type CatalogEntry,
  LAYOUT,
  type MasterObjects,
  type MasterPublisher,
  type MasterReader,
  type MasterReaderOptions,
  type StagedVersion,
  type TrackKeyWriter,
  catalogEntry,
  createMasterReader,
} from './storage.js'

/**
 * Masters in an R2 bucket: the distributed implementation of the storage contract (storage.ts).
 * Written against the R2 binding API, which the origin Worker gets as `env.MASTERS` and Node gets
 * from Miniflare's local R2 (local-r2.ts), so one implementation serves both. No node:* import.
 *
 * Layout (the same names as the directory's, plus the index):
 *
 *   tracks/<id>/<version>/<bitrate>.enc    one encrypted master per quality (chunks are ranges of it)
 *   tracks/<id>/<version>/manifest.json    written after every master of its version
 *   catalog.json                           {"tracks": {"<id>": CatalogEntry}}: the `current` pointers
 *
 * Why one index object instead of a pointer per track: a Worker answering the catalog then reads
 * one object, not one per track (a Worker has a bounded number of subrequests), and a publish is
 * still one atomic write: the index is replaced by a conditional put (compare-and-swap on its
 * ETag), after every object of the version and its key are in place. A crash before that put
 * leaves the old index, so the old track (or none); concurrent ingests retry, never overwrite
 * each other's entries. Track keys never go in the bucket: the publisher hands them to a
 * TrackKeyWriter (another store) before the version can become current.
 */

/** The part of the R2 binding API this store uses; both the Workers binding and Miniflare's bucket have it. */
export interface R2BucketLike {
  get(key: string, options?: { range?: { offset: number; length: number } }): Promise<R2ObjectBodyLike | null>
  put(key: string, value: string | Uint8Array, options?: { onlyIf?: { etagMatches?: string; etagDoesNotMatch?: string }; httpMetadata?: { contentType?: string } }): Promise<{ etag: string } | null>
  list(options?: { prefix?: string; delimiter?: string; cursor?: string; limit?: number }): Promise<R2ListingLike>
  delete(keys: string | string[]): Promise<void>
}

interface R2ObjectBodyLike {
  etag: string
  size: number
  uploaded: Date
  arrayBuffer(): Promise<ArrayBuffer>
  text(): Promise<string>
}

interface R2ListingLike {
  objects: Array<{ key: string; size: number; uploaded: Date }>
  delimitedPrefixes: string[]
  truncated: boolean
  cursor?: string
}

const CATALOG_KEY = 'catalog.json'

/** catalog.json: every track's current version and its catalog line. */
interface CatalogIndex {
  tracks: Record<string, CatalogEntry>
}

async function readIndex(bucket: R2BucketLike): Promise<{ index: CatalogIndex; etag: string | undefined }> {
  const object = await bucket.get(CATALOG_KEY)
  if (!object) return { index: { tracks: {} }, etag: undefined }
  const parsed = JSON.parse(await object.text()) as Partial<CatalogIndex>
  const tracks = typeof parsed.tracks === 'object' && parsed.tracks !== null ? parsed.tracks : {}
  return { index: { tracks }, etag: object.etag }
}

/** The read side over a bucket. Reads of catalog.json are reused for refreshMs, like the directory's pointers. */
export function createR2Store(bucket: R2BucketLike, options: MasterReaderOptions = {}): MasterReader {
  const refreshMs = options.refreshMs ?? 1000
  const now = options.now ?? Date.now
  let cached: { at: number; index: Promise<CatalogIndex> } | undefined

  function index(): Promise<CatalogIndex> {
    if (!cached || now() - cached.at >= refreshMs) {
      const pending = readIndex(bucket).then((r) => r.index)
      cached = { at: now(), index: pending }
      // A failed read is not kept: the next request tries again.
      pending.catch(() => {
        if (cached?.index === pending) cached = undefined
      })
    }
    return cached.index
  }

  const objects: MasterObjects = {
    listTrackIds: async () => Object.keys((await index()).tracks),
    async readPointer(trackId) {
      const { tracks } = await index()
      return Object.hasOwn(tracks, trackId) ? tracks[trackId]!.version : undefined
    },
    readCatalog: async () => Object.values((await index()).tracks),
    async readManifest(trackId, version) {
      const object = await bucket.get(LAYOUT.manifest(trackId, version))
      return object ? object.text() : undefined
    },
    async readChunk(trackId, version, q, index) {
      const offset = index * q.chunkSize
      const length = Math.min(q.chunkSize, q.byteLength - offset)
      const object = await bucket.get(LAYOUT.master(trackId, version, q.bitrate), { range: { offset, length } })
      if (!object) return undefined
      const bytes = new Uint8Array(await object.arrayBuffer())
      if (bytes.length !== length) throw new Error(`short read of ${trackId}/${version}/${q.bitrate}/${index}: the master object is truncated`)
      return { bytes, etag: `"${q.hashes[index]}"` }
    },
  }
  return createMasterReader(objects, { refreshMs, now })
}

export interface R2PublisherOptions {
  /** Where the version's key goes (never the bucket). */
  trackKeys: TrackKeyWriter
  /** Puts of masters at once. */
  concurrency?: number
  /** Tries at the index's compare-and-swap before giving up (other ingests keep winning). */
  maxAttempts?: number
  /** Called between steps, for tests and progress: 'masters', 'manifest', 'key', 'index'. */
  onStep?: (step: 'masters' | 'manifest' | 'key' | 'index') => void
}

/** The write side over a bucket: objects of the version, its manifest, its key, then the index. */
export function createR2Publisher(bucket: R2BucketLike, options: R2PublisherOptions): MasterPublisher {
  const concurrency = options.concurrency ?? 4
  const maxAttempts = options.maxAttempts ?? 50

  async function putIndexEntry(entry: CatalogEntry): Promise<void> {
    for (let attempt = 0; attempt < maxAttempts; attempt++) {
      const { index, etag } = await readIndex(bucket)
      const tracks = { ...index.tracks, [entry.trackId]: entry }
      const body = JSON.stringify({ tracks } satisfies CatalogIndex)
      // The first publish into an empty bucket creates the index only if no one else just did.
      const onlyIf = etag === undefined ? { etagDoesNotMatch: '*' } : { etagMatches: etag }
      const put = await bucket.put(CATALOG_KEY, body, { onlyIf, httpMetadata: { contentType: 'application/json' } })
      if (put) return
      await new Promise((resolve) => setTimeout(resolve, 10 + Math.random() * 40 * Math.min(attempt + 1, 10)))
    }
    throw new Error(`could not update ${CATALOG_KEY} after ${maxAttempts} tries: other ingests keep changing it`)
  }

  return {
    async publish(staged: StagedVersion): Promise<void> {
      const { trackId, version } = staged.manifest
      if (!isTrackId(trackId)) throw new Error(`not a track id: ${trackId}`)
      const masters = [...staged.masters]
      let next = 0
      await Promise.all(
        Array.from({ length: Math.min(concurrency, masters.length) }, async () => {
          while (next < masters.length) {
            const [bitrate, bytes] = masters[next++]!
            await bucket.put(LAYOUT.master(trackId, version, bitrate), bytes, { httpMetadata: { contentType: 'application/octet-stream' } })
          }
        }),
      )
      options.onStep?.('masters')
      // The manifest goes last among the version's objects: its presence means every object it names is there.
      await bucket.put(LAYOUT.manifest(trackId, version), JSON.stringify(staged.signed), { httpMetadata: { contentType: 'application/json' } })
      options.onStep?.('manifest')
      await options.trackKeys.putTrackKey(trackId, version, staged.keyB64)
      options.onStep?.('key')
      await putIndexEntry(catalogEntry(staged.manifest))
      options.onStep?.('index')
    },
  }
}

async function listAll(bucket: R2BucketLike, prefix: string): Promise<R2ListingLike['objects']> {
  const out: R2ListingLike['objects'] = []
  let cursor: string | undefined
  do {
    const page = await bucket.list({ prefix, ...(cursor !== undefined && { cursor }) })
    out.push(...page.objects)
    cursor = page.truncated ? page.cursor : undefined
  } while (cursor)
  return out
}

/**
 * Deletes what killed ingests left: objects of versions that never got their manifest (so were
 * never readable) and are older than `olderThanMs` (an ingest still uploading is younger). Complete
 * versions stay, current or not: a listener may be in the middle of one. One flat listing of
 * `tracks/` (a list request per 1000 objects), grouped here by version, rather than a listing per
 * track and per version: the same answer for far fewer requests, and no reliance on `delimiter`,
 * which some S3-compatible servers get wrong for nested keys.
 */
export async function sweepR2(bucket: R2BucketLike, options: { olderThanMs?: number; now?: () => number } = {}): Promise<number> {
  const olderThanMs = options.olderThanMs ?? 60 * 60 * 1000
  const now = options.now ?? Date.now
  const versions = new Map<string, R2ListingLike['objects']>()
  for (const o of await listAll(bucket, 'tracks/')) {
    const version = /^tracks\/[^/]+\/[^/]+\//.exec(o.key)?.[0]
    if (!version) continue
    const group = versions.get(version)
    if (group) group.push(o)
    else versions.set(version, [o])
  }
  let removed = 0
  for (const objects of versions.values()) {
    if (objects.some((o) => o.key.endsWith('/manifest.json'))) continue
    if (objects.some((o) => now() - o.uploaded.getTime() < olderThanMs)) continue
    await bucket.delete(objects.map((o) => o.key))
    removed += objects.length
  }
  return removed
}

/** `r2://BUCKET` -> the bucket name (R2's rules: 3-63 lowercase letters, digits and hyphens). */
export function parseR2Target(target: string): string | undefined {
  const m = /^r2:\/\/([a-z0-9][a-z0-9-]{1,61}[a-z0-9])\/?$/.exec(target)
  return m?.[1]
}
