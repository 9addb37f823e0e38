import { randomBytes } from 'node:crypto'
import { chmod, mkdir, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { MANIFEST_SCHEMA, type Manifest, chunkLength, chunkPath, newVersion, signManifest, toBase64Url } from '../../protocol/index.js'
import { loadOriginKeys } from '../../origin/src/keys.js'
import { buildMaster } from '../../origin/src/masters.js'
import { publishVersion } from '../../origin/src/store.js'

export const CHUNK = 32 * 1024

/**
 * One track of `chunks` 32 KiB chunks published the way ingest publishes (random bytes: the
 * content does not matter to a cache), and the same chunks as plain files for nginx.
 */
export async function makeBenchCatalog(dataDir: string, chunks: number): Promise<{ paths: string[]; publicKey: string; staticRoot: string }> {
  const keys = await loadOriginKeys(dataDir)
  const bytes = new Uint8Array(randomBytes(chunks * CHUNK))
  const built = buildMaster({ bitrate: 320, bytes, sampleRate: 44100, channels: 2, frameOffsets: [], frameTimesMs: [] }, randomBytes(16), randomBytes(8), CHUNK)
  const manifest: Manifest = {
    schema: MANIFEST_SCHEMA,
    trackId: 'bench',
    version: newVersion(Date.now(), randomBytes(4)),
    title: 'bench',
    artist: 'bench',
    album: '',
    durationMs: 1000,
    createdAt: new Date().toISOString(),
    qualities: [built.quality],
  }
  const signed = await signManifest(manifest, keys.signer, keys.keyId)
  await publishVersion(dataDir, { manifest, signed, keyB64: toBase64Url(new Uint8Array(randomBytes(16))), masters: new Map([[320, built.encrypted]]) })
  const staticRoot = join(dataDir, 'static')
  const paths: string[] = []
  for (let index = 0; index < chunks; index++) {
    const path = chunkPath({ trackId: 'bench', version: manifest.version, bitrate: 320, index })
    const offset = index * CHUNK
    const file = join(staticRoot, path)
    await mkdir(dirname(file), { recursive: true })
    await writeFile(file, built.encrypted.subarray(offset, offset + chunkLength(built.quality.byteLength, CHUNK, index)))
    paths.push(path)
  }
  // nginx workers run as an unprivileged user: they must be able to walk down to the files (keys/ stays 0700).
  await chmod(dataDir, 0o755)
  return { paths, publicKey: keys.publicKey, staticRoot }
}
