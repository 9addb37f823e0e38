import { randomBytes } from 'node:crypto'
import { mkdir, open, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createChunkMemory } from './chunk-memory.js'
import { isTrackId, isVersion } from '../../protocol/index.js'
import { type MasterObjects, type MasterPublisher, type MasterReader, type StagedVersion, type StoredChunk, type TrackKeyReader, createMasterReader } from './storage.js'

/**
 * The catalog on disk: the directory implementation of the storage contract (storage.ts), the
 * embedded default. Layout under the data directory:
 *
 *   tracks/<id>/current              the published version id (replaced by rename, never edited)
 *   tracks/<id>/<version>/manifest.json, key, <bitrate>.enc
 *   .staging/<pid>-<random>/         an ingest in progress; never read by the server
 *
 * A version directory is complete before it is renamed into place, and `current` changes by
 * rename, so a crash at any moment leaves either the old track or the new one, never half of
 * one. Old versions stay on disk so that listeners in the middle of them keep playing.
 * On one machine the key may sit beside the chunks (the directory is the origin's own, mode
 * 0600); a shared store (R2) never holds keys.
 */
export type { StagedVersion } from './storage.js'

export interface StoreOptions {
  dataDir: string
  /** Bytes of hot chunks kept in memory. */
  memoryBytes?: number
  /** How long a read of `current` and of the catalog listing is reused (ms): ingests by another process show up after this. */
  refreshMs?: number
  now?: () => number
}

/** The directory store: masters and the keys beside them, with hot chunks held in memory. */
export interface DirectoryStore extends MasterReader, TrackKeyReader {
  root: string
  peekChunk(path: string): StoredChunk | undefined
}

function tracksDir(dataDir: string): string {
  return join(dataDir, 'tracks')
}

function stagingDir(dataDir: string): string {
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

export function createStore(options: StoreOptions): DirectoryStore {
  const root = tracksDir(options.dataDir)
  // Keyed by the chunk's canonical path below CHUNK_PREFIX, so that a request's own path finds
  // a hot chunk with one lookup and no parsing (see peekChunk).
  const chunks = createChunkMemory(options.memoryBytes ?? 256 * 1024 * 1024)

  const objects: MasterObjects = {
    listTrackIds: () => readdir(root).catch(() => [] as string[]),
    readPointer: (trackId) => readText(join(root, trackId, 'current')),
    readManifest: (trackId, version) => readText(join(root, trackId, version, 'manifest.json')),
    async readChunk(trackId, version, q, index) {
      const key = `${trackId}/${version}/${q.bitrate}/${index}`
      let file: Awaited<ReturnType<typeof open>>
      try {
        file = await open(join(root, trackId, version, `${q.bitrate}.enc`), 'r')
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
        throw err
      }
      try {
        const slot = chunks.slot(`${trackId}/${version}/${q.bitrate}`, index, q.chunkSize, q.byteLength)
        const length = slot.view.byteLength
        const { bytesRead } = await file.read(slot.view, 0, length, index * q.chunkSize)
        if (bytesRead !== length) throw new Error(`short read of ${key}: the master file is truncated`)
        return slot.keep(key, `"${q.hashes[index]}"`)
      } finally {
        await file.close()
      }
    },
  }
  const reader = createMasterReader(objects, options)

  function chunk(trackId: string, version: string, bitrate: number, index: number): Promise<StoredChunk | undefined> {
    const hit = chunks.peek(`${trackId}/${version}/${bitrate}/${index}`)
    return hit ? Promise.resolve(hit) : reader.chunk(trackId, version, bitrate, index)
  }

  async function trackKey(trackId: string, version: string): Promise<string | undefined> {
    if (!isTrackId(trackId) || !isVersion(version)) return undefined
    return (await readText(join(root, trackId, version, 'key')))?.trim()
  }

  /**
   * The chunk whose path below CHUNK_PREFIX is exactly `path` ({track}/{version}/{bitrate}/{index},
   * as chunkPath() writes it), if it is in memory. Any other spelling misses and takes the parsing
   * path, so a hit needs no validation.
   */
  const peekChunk = (path: string) => chunks.peek(path)

  return { ...reader, root, chunk, trackKey, peekChunk }
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
  return createDirectoryPublisher(dataDir).publish(staged)
}

export function createDirectoryPublisher(dataDir: string): MasterPublisher {
  return { publish: (staged) => publishToDirectory(dataDir, staged) }
}

async function publishToDirectory(dataDir: string, staged: StagedVersion): Promise<void> {
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
