import { mkdir, open, readFile, readdir, rename, rm, stat } from 'node:fs/promises'
import { dirname, join, relative, sep } from 'node:path'
import { randomId } from '../core/random-id.js'
import type { CacheStorageBackend } from './types.js'

/**
 * A cache directory: one file per entry, written beside and renamed so a crash never leaves a
 * half chunk that would later read as whole (it would fail its hash check anyway; this keeps
 * the cache from filling with such files). Keys are the chunk's path, already safe for a file system.
 */
export function createFsStorage(dir: string): CacheStorageBackend {
  const safe = (key: string) => {
    if (!/^[a-z0-9][a-z0-9/_.-]*$/i.test(key) || key.includes('..')) throw new TypeError(`unsafe cache key ${key}`)
    return join(dir, key)
  }
  return {
    async get(key) {
      try {
        return new Uint8Array(await readFile(safe(key)))
      } catch {
        return undefined
      }
    },
    async put(key, bytes) {
      const path = safe(key)
      await mkdir(dirname(path), { recursive: true })
      const tmp = `${path}.tmp-${process.pid}-${randomId().slice(0, 12)}`
      // Owner-only: the cache holds track keys too (key-ring.ts), for their lease.
      const file = await open(tmp, 'w', 0o600)
      try {
        try {
          await file.writeFile(bytes)
        } finally {
          await file.close()
        }
        await rename(tmp, path)
      } catch (err) {
        // A half-written file would only wait for the next start's sweep: remove it now.
        await rm(tmp, { force: true })
        throw err
      }
    },
    async delete(key) {
      await rm(safe(key), { force: true })
    },
    async list() {
      await mkdir(dir, { recursive: true })
      const names = (await readdir(dir, { recursive: true })).map(String)
      const entries: Array<{ key: string; size: number; at: number }> = []
      for (const name of names) {
        const path = join(dir, name)
        const info = await stat(path).catch(() => undefined)
        if (!info?.isFile()) continue
        if (name.includes('.tmp-')) {
          await rm(path, { force: true })
          continue
        }
        entries.push({ key: relative(dir, path).split(sep).join('/'), size: info.size, at: info.atimeMs })
      }
      return entries.sort((a, b) => a.at - b.at).map(({ key, size }) => ({ key, size }))
    },
  }
}
