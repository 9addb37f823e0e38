import { mkdir, open, readFile, rename } from 'node:fs/promises'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { isTrackId, isVersion } from '../../protocol/index.js'
import type { TrackKeyReader, TrackKeyWriter } from './storage.js'

/**
 * Track keys in a directory of their own (`<dir>/<id>/<version>`, mode 0600), for masters
 * published elsewhere (R2): the keys stay on the operator's machine, never in the bucket beside
 * the chunks they open. Each key is written beside and renamed into place, so a crash never
 * leaves a half key that reads as valid.
 */
export function createDirectoryKeyStore(dir: string): TrackKeyReader & TrackKeyWriter {
  return {
    async trackKey(trackId, version) {
      if (!isTrackId(trackId) || !isVersion(version)) return undefined
      try {
        return (await readFile(join(dir, trackId, version), 'utf8')).trim()
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
        throw err
      }
    },
    async putTrackKey(trackId, version, keyB64) {
      if (!isTrackId(trackId) || !isVersion(version)) throw new Error(`not a track id and version: ${trackId}/${version}`)
      const trackDir = join(dir, trackId)
      await mkdir(trackDir, { recursive: true, mode: 0o700 })
      const tmp = join(trackDir, `.${version}-${process.pid}-${randomBytes(4).toString('hex')}`)
      const file = await open(tmp, 'w', 0o600)
      try {
        await file.writeFile(`${keyB64}\n`)
        await file.sync()
      } finally {
        await file.close()
      }
      await rename(tmp, join(trackDir, version))
    },
  }
}
