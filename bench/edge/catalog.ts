import { chmod, mkdir, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { chunkLength, chunkPath } from '../../protocol/index.js'
import { BENCH_CHUNK, publishBenchTrack } from '../src/catalog.js'

const CHUNK = BENCH_CHUNK

/**
 * One track of `chunks` 32 KiB chunks published the way ingest publishes (random bytes: the
 * content does not matter to a cache), and the same chunks as plain files for nginx.
 */
export async function makeBenchCatalog(dataDir: string, chunks: number): Promise<{ paths: string[]; publicKey: string; staticRoot: string }> {
  const { manifest, quality, encrypted, publicKey } = await publishBenchTrack(dataDir, chunks)
  const staticRoot = join(dataDir, 'static')
  const paths: string[] = []
  for (let index = 0; index < chunks; index++) {
    const path = chunkPath({ trackId: 'bench', version: manifest.version, bitrate: 320, index })
    const offset = index * CHUNK
    const file = join(staticRoot, path)
    await mkdir(dirname(file), { recursive: true })
    await writeFile(file, encrypted.subarray(offset, offset + chunkLength(quality.byteLength, CHUNK, index)))
    paths.push(path)
  }
  // nginx workers run as an unprivileged user: they must be able to walk down to the files (keys/ stays 0700).
  await chmod(dataDir, 0o755)
  return { paths, publicKey, staticRoot }
}
