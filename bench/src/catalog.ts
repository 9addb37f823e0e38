import { randomBytes } from 'node:crypto'
import { MANIFEST_SCHEMA, type Manifest, type QualityManifest, newVersion, signManifest, toBase64Url } from '../../protocol/index.js'
import { loadOriginKeys } from '../../origin/index.js'
import { buildMaster } from '../../origin/index.js'
import { publishVersion } from '../../origin/index.js'

export const BENCH_CHUNK = 32 * 1024

/**
 * One track 'bench' of `chunks` 32 KiB chunks at 320 kbit/s, published the way ingest publishes
 * (random bytes: the content does not matter to a server or a cache).
 */
export async function publishBenchTrack(dataDir: string, chunks: number): Promise<{ manifest: Manifest; quality: QualityManifest; encrypted: Uint8Array; publicKey: string }> {
  const keys = await loadOriginKeys(dataDir)
  const bytes = new Uint8Array(randomBytes(chunks * BENCH_CHUNK))
  const built = buildMaster({ codec: 'mp3', bitrate: 320, bytes, sampleRate: 44100, channels: 2, frameOffsets: [], frameTimesMs: [] }, randomBytes(16), randomBytes(8), BENCH_CHUNK)
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
  return { manifest, quality: built.quality, encrypted: built.encrypted, publicKey: keys.publicKey }
}
