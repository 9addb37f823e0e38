import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DEMO_TRACKS, synthesizeTrack } from '../../origin/index.js'
import { encodeMp3 } from '../../origin/index.js'
import { ingestFile } from '../../origin/index.js'
import { loadOriginKeys } from '../../origin/index.js'
import { seeded } from '../../protocol/index.js'

/**
 * The benchmark's catalog: real MP3 (the demo synthesizer, encoded at 160 kbit/s by the
 * origin's own encoder), ingested by the origin's own code under many track ids. Encoding is
 * the slow part (about 5x real time per core here), so a few sources are encoded once, kept
 * in a cache directory across runs, and each track id is an ingest of one of them: its own key,
 * nonce, version and chunks, as distinct to every cache as different songs.
 */
interface CatalogTrack {
  trackId: string
  durationMs: number
  bytes: number
  chunks: number
}

export interface Catalog {
  dataDir: string
  publicKey: string
  /** By popularity rank: tracks[0] is the most played. */
  tracks: CatalogTrack[]
  /** Bytes of the first chunk (the physical limit of a cold start sends it once). */
  firstChunkBytes: number
  chunkSize: number
}

export const BITRATE = 160
const CHUNK_SIZE = 32 * 1024

const AUDIO_CACHE_DIR = join(tmpdir(), 'chorus-bench-audio')

/** One source MP3 of `seconds`, encoded once and then read from the cache directory. */
async function sourceMp3(seconds: number, index: number, log: (line: string) => void): Promise<string> {
  const spec = DEMO_TRACKS[index % DEMO_TRACKS.length]!
  const path = join(AUDIO_CACHE_DIR, `v1-${spec.seed.toString(16)}-${seconds}s-${BITRATE}.mp3`)
  try {
    await readFile(path)
    return path
  } catch {}
  log(`encoding a ${seconds} s source track (once; cached in ${AUDIO_CACHE_DIR})`)
  await mkdir(AUDIO_CACHE_DIR, { recursive: true })
  const pcm = synthesizeTrack({ seed: spec.seed, durationSec: seconds })
  const mp3 = (await encodeMp3(pcm, [BITRATE], { workers: 1 })).get(BITRATE)!
  const tmp = `${path}.${process.pid}.tmp`
  await writeFile(tmp, mp3)
  await rename(tmp, path)
  return path
}

export async function buildCatalog(options: { dataDir: string; tracks: number; sourceSeconds: readonly number[]; seed: number; log?: (line: string) => void }): Promise<Catalog> {
  const log = options.log ?? (() => {})
  const keys = await loadOriginKeys(options.dataDir, {})
  // Two encodes at a time: the machine has two cores.
  const sources: string[] = []
  const queue = options.sourceSeconds.map((s, i) => ({ s, i }))
  await Promise.all(
    [0, 1].map(async () => {
      for (let job = queue.shift(); job; job = queue.shift()) sources[job.i] = await sourceMp3(job.s, job.i, log)
    }),
  )
  const random = seeded(options.seed ^ 0x5eed)
  const tracks: CatalogTrack[] = []
  for (let rank = 0; rank < options.tracks; rank++) {
    const trackId = `bench-${String(rank + 1).padStart(4, '0')}`
    const source = sources[Math.floor(random() * sources.length)]!
    // codec 'mp3': the source MP3 is kept byte for byte as the track's one quality (what this
    // scenario describes), not transcoded to AAC at three qualities (ingest's default with ffmpeg).
    const r = await ingestFile(source, { trackId, title: `Bench track ${rank + 1}`, artist: 'Chorus bench', album: '' }, { dataDir: options.dataDir, keys, chunkSize: CHUNK_SIZE, codec: 'mp3' })
    tracks.push({ trackId, durationMs: r.durationMs, bytes: r.bytes, chunks: r.chunks })
  }
  return { dataDir: options.dataDir, publicKey: keys.publicKey, tracks, firstChunkBytes: CHUNK_SIZE, chunkSize: CHUNK_SIZE }
}
