import { randomBytes } from 'node:crypto'
import { mkdir, open, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { LRUCache } from 'lru-cache'
import { type StoredChunk, createChunkMemory } from './chunk-memory.js'
import {
  type Manifest,
  type SignedManifest,
  findQuality,
  isTrackId,
  isVersion,
} from '../../protocol/index.js'

/**
 * The catalog on disk. Layout under the data directory:
 *
 *   tracks/<id>/current              the published version id (replaced by rename, never edited)
 *   tracks/<id>/<version>/manifest.json, key, <bitrate>.enc
 *   .staging/<pid>-<random>/         an ingest in progress; never read by the server
 *
 * A version directory is complete before it is renamed into place, and `current` changes by
 * rename, so a crash at any moment leaves either the old track or the new one, never half of
 * one. Old versions stay on disk so that listeners in the middle of them keep playing.
 */
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

export interface StoredManifest {
  doc: SignedManifest
  /** The exact JSON served, so the ETag is stable. */
  body: string
}

export interface StoreOptions {
  dataDir: string
  /** Bytes of hot chunks kept in memory. */
  memoryBytes?: number
  /** How long a read of `current` and of the catalog listing is reused (ms): ingests by another process show up after this. */
  refreshMs?: number
  now?: () => number
}

export type Store = ReturnType<typeof createStore>
export type { StoredChunk }

export function tracksDir(dataDir: string): string {
  return join(dataDir, 'tracks')
}

export function stagingDir(dataDir: string): string {
  return join(dataDir, '.staging')
}

async function readText(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8')
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined
    throw err
  }
}

export function createStore(options: StoreOptions) {
  const root = tracksDir(options.dataDir)
  const refreshMs = options.refreshMs ?? 1000
  const now = options.now ?? Date.now
  const currents = new Map<string, { at: number; version: string | undefined }>()
  // Versions are immutable, so a parsed manifest never goes stale; the bound only caps memory.
  const manifests = new LRUCache<string, StoredManifest>({ max: 2048 })
  // Keyed by the chunk's canonical path below CHUNK_PREFIX, so that a request's own path finds
  // a hot chunk with one lookup and no parsing (see peekChunk).
  const chunks = createChunkMemory(options.memoryBytes ?? 256 * 1024 * 1024)
  const reading = new Map<string, Promise<StoredChunk | undefined>>()
  let listing: { at: number; entries: Promise<CatalogEntry[]> } | undefined

  async function currentVersion(trackId: string): Promise<string | undefined> {
    if (!isTrackId(trackId)) return undefined
    const cached = currents.get(trackId)
    if (cached && now() - cached.at < refreshMs) return cached.version
    const text = (await readText(join(root, trackId, 'current')))?.trim()
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
    const body = await readText(join(root, trackId, version, 'manifest.json'))
    if (body === undefined) return undefined
    const stored = { doc: JSON.parse(body) as SignedManifest, body }
    manifests.set(key, stored)
    return stored
  }

  async function buildListing(): Promise<CatalogEntry[]> {
    let ids: string[]
    try {
      ids = await readdir(root)
    } catch {
      return []
    }
    const entries: CatalogEntry[] = []
    for (const id of ids.filter(isTrackId).sort()) {
      const version = await currentVersion(id)
      if (!version) continue
      const m = (await manifest(id, version))?.doc.manifest
      if (!m) continue
      entries.push({
        trackId: m.trackId,
        version: m.version,
        title: m.title,
        artist: m.artist,
        album: m.album,
        durationMs: m.durationMs,
        bitrates: m.qualities.map((q) => q.bitrate),
        createdAt: m.createdAt,
      })
    }
    return entries
  }

  function catalog(): Promise<CatalogEntry[]> {
    if (!listing || now() - listing.at >= refreshMs) listing = { at: now(), entries: buildListing() }
    return listing.entries
  }

  /** The encrypted chunk, or undefined when the track, version, quality or index does not exist. */
  function chunk(trackId: string, version: string, bitrate: number, index: number): Promise<StoredChunk | undefined> {
    const key = `${trackId}/${version}/${bitrate}/${index}`
    const hit = chunks.peek(key)
    if (hit) return Promise.resolve(hit)
    // Edges ask for a new track's chunks all at once: one read per chunk, however many ask.
    let pending = reading.get(key)
    if (!pending) {
      pending = readChunk(key, trackId, version, bitrate, index).finally(() => reading.delete(key))
      reading.set(key, pending)
    }
    return pending
  }

  async function readChunk(key: string, trackId: string, version: string, bitrate: number, index: number): Promise<StoredChunk | undefined> {
    const m = (await manifest(trackId, version))?.doc.manifest
    const q = m && findQuality(m, bitrate)
    if (!q || index >= q.chunkCount) return undefined
    const file = await open(join(root, trackId, version, `${bitrate}.enc`), 'r')
    try {
      const slot = chunks.slot(`${trackId}/${version}/${bitrate}`, index, q.chunkSize, q.byteLength)
      const length = slot.view.byteLength
      const { bytesRead } = await file.read(slot.view, 0, length, index * q.chunkSize)
      if (bytesRead !== length) throw new Error(`short read of ${key}: the master file is truncated`)
      return slot.keep(key, `"${q.hashes[index]}"`)
    } finally {
      await file.close()
    }
  }

  async function trackKey(trackId: string, version: string): Promise<string | undefined> {
    if (!isTrackId(trackId) || !isVersion(version)) return undefined
    return (await readText(join(root, trackId, version, 'key')))?.trim()
  }

  /**
   * The chunk whose path below CHUNK_PREFIX is exactly `path` ({track}/{version}/{bitrate}/{index},
   * as chunkPath() writes it), if it is in memory. Any other spelling misses and takes the parsing
   * path, so a hit needs no validation. Synchronous: a hot chunk is answered without waiting a tick.
   */
  const peekChunk = (path: string) => chunks.peek(path)

  return { root, currentVersion, manifest, catalog, chunk, trackKey, peekChunk }
}

/** What an ingest hands to publish: every file of one version, already complete in memory or on disk. */
export interface StagedVersion {
  manifest: Manifest
  signed: SignedManifest
  keyB64: string
  /** bitrate -> encrypted bytes */
  masters: Map<number, Uint8Array>
}

async function writeDurable(path: string, data: string | Uint8Array, mode = 0o644): Promise<void> {
  const file = await open(path, 'w', mode)
  try {
    await file.writeFile(data)
    await file.sync()
  } finally {
    await file.close()
  }
}

async function syncDir(path: string): Promise<void> {
  const dir = await open(path, 'r')
  try {
    await dir.sync()
  } finally {
    await dir.close()
  }
}

/**
 * Publishes one version: written and fsynced in a private staging directory, renamed into
 * place, then made current by an atomic rename of the pointer file.
 */
export async function publishVersion(dataDir: string, staged: StagedVersion): Promise<void> {
  const { trackId, version } = staged.manifest
  const staging = join(stagingDir(dataDir), `${process.pid}-${randomBytes(6).toString('hex')}`)
  await mkdir(staging, { recursive: true })
  try {
    for (const [bitrate, bytes] of staged.masters) await writeDurable(join(staging, `${bitrate}.enc`), bytes)
    await writeDurable(join(staging, 'key'), `${staged.keyB64}\n`, 0o600)
    // The manifest goes last: its presence in a directory means every file it names is there.
    await writeDurable(join(staging, 'manifest.json'), JSON.stringify(staged.signed))
    await syncDir(staging)
    const trackDir = join(tracksDir(dataDir), trackId)
    await mkdir(trackDir, { recursive: true })
    await rename(staging, join(trackDir, version))
    const pointer = join(trackDir, `.current-${process.pid}-${randomBytes(4).toString('hex')}`)
    await writeDurable(pointer, `${version}\n`)
    await rename(pointer, join(trackDir, 'current'))
    await syncDir(trackDir)
  } catch (err) {
    await rm(staging, { recursive: true, force: true })
    throw err
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** Removes what crashed ingests left behind (their process is gone); a running ingest's files stay. */
export async function sweepStaging(dataDir: string): Promise<number> {
  let removed = 0
  const dir = stagingDir(dataDir)
  let names: string[] = []
  try {
    names = await readdir(dir)
  } catch {
    return 0
  }
  for (const name of names) {
    const pid = Number(name.split('-')[0])
    if (Number.isInteger(pid) && pid > 0 && alive(pid)) continue
    await rm(join(dir, name), { recursive: true, force: true })
    removed++
  }
  for (const id of await readdir(tracksDir(dataDir)).catch(() => [] as string[])) {
    for (const name of await readdir(join(tracksDir(dataDir), id)).catch(() => [] as string[])) {
      if (!name.startsWith('.current-')) continue
      const pid = Number(name.split('-')[1])
      if (Number.isInteger(pid) && alive(pid)) continue
      await rm(join(tracksDir(dataDir), id, name), { force: true })
      removed++
    }
  }
  return removed
}

/** Writes the API-key configuration read by `POST /v1/session`. */
export async function writeConfigFile(dataDir: string, config: unknown): Promise<void> {
  await mkdir(dataDir, { recursive: true })
  const tmp = join(dataDir, `.config-${process.pid}.json`)
  await writeFile(tmp, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 })
  await rename(tmp, join(dataDir, 'config.json'))
}
