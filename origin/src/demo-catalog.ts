import { STANDARD_BITRATES } from '../../protocol/index.js'
import { DEMO_API_KEY } from './api-keys.js'
import { DEMO_TRACKS } from './audio/demo-music.js'
import type { Pcm } from './audio/pcm.js'
import { createSynthesizer } from './audio/synth-pool.js'
import { type IngestOptions, type IngestResult, ingestPcm } from './ingest.js'
import { loadOriginKeys } from './keys.js'
import { createProgress } from './progress.js'
import type { MasterPublisher } from './storage.js'
import { createStore, writeConfigFile } from './store.js'

export interface DemoOptions {
  /** Make every track this long (quick tests); default: each track's own 2-4 minutes. */
  durationSec?: number
  /** Only the first `count` tracks of the catalog. */
  count?: number
  json?: boolean
  workers?: number
  chunkSize?: number
  /** Leave out the tracks already in the catalog (a first run stopped part way goes on). */
  skipExisting?: boolean
  /** The catalog skipExisting reads, when the tracks go elsewhere than dataDir (R2, with `publisher`); default: dataDir's. */
  existing?: () => Promise<Array<{ trackId: string }>>
  /** Stops the catalog between tracks or in the middle of one; a track is published whole or not at all. */
  signal?: AbortSignal
  /** A progress bar on a terminal's stderr (default: unless json). */
  progressBar?: boolean
  /** Each track as it is published, with how many of this run's tracks are done. */
  onTrack?: (r: IngestResult, done: number, total: number) => void
  onWarning?: (message: string) => void
  /** Where the tracks go (R2, say); default: the directory store of dataDir. */
  publisher?: MasterPublisher
}

/**
 * Creates the demo catalog: a dozen synthesized tracks in three qualities, and the demo API key.
 * Each track is published as soon as it is encoded, in catalog order as a rule. The qualities
 * are handed to the encoders highest bitrate first (with ffmpeg's AAC, 320 kbit/s costs about
 * as much as 96 and 160 together: on two cores one encoder takes it while the other does the
 * two others). The next track is synthesized on a thread of its own while one encodes, and its
 * encode starts when the current one is nearly through, so that the tail of one track does not
 * leave a core idle. At most two tracks are in flight.
 */
export async function ingestDemo(dataDir: string, options: DemoOptions): Promise<IngestResult[]> {
  const keys = await loadOriginKeys(dataDir)
  await writeConfigFile(dataDir, { apiKeys: { [DEMO_API_KEY]: { name: 'demo', scope: ['play', 'announce'] } } })
  let specs = DEMO_TRACKS.slice(0, options.count ?? DEMO_TRACKS.length)
  if (options.skipExisting) {
    const have = new Set((await (options.existing ?? (() => createStore({ dataDir, refreshMs: 0 }).catalog()))()).map((e) => e.trackId))
    specs = specs.filter((s) => !have.has(s.id))
  }
  const results: IngestResult[] = []
  if (specs.length === 0) return results
  options.signal?.throwIfAborted()
  // A failed track stops the other in flight; the caller's signal stops both.
  const failure = new AbortController()
  const signal = options.signal ? AbortSignal.any([options.signal, failure.signal]) : failure.signal
  const progress = createProgress(process.stderr, (options.progressBar ?? !options.json) && process.stderr.isTTY === true)
  const fractions = new Float64Array(specs.length)
  const synth = await createSynthesizer()
  const renders: Array<Promise<Pcm> | undefined> = []
  const render = (i: number): Promise<Pcm> | undefined => {
    if (i >= specs.length) return undefined
    let pcm = renders[i]
    if (!pcm) {
      const spec = specs[i]!
      pcm = renders[i] = synth.render({ seed: spec.seed, durationSec: options.durationSec ?? spec.durationSec }, signal)
      pcm.catch(() => undefined) // awaited when its turn comes; an abort before then must not surface as unhandled
    }
    return pcm
  }

  /** Share of a track's encoding fed to the encoders at which the next track's encode starts. */
  const HANDOFF = 0.9
  // Longest job first: the encoders take the qualities in this order (the manifest sorts them).
  const bitrates = [...STANDARD_BITRATES].sort((a, b) => b - a)
  const ingestOne = async (i: number, handoff: () => void): Promise<void> => {
    const spec = specs[i]!
    const pcm = await render(i)!
    renders[i] = undefined // the PCM goes with this ingest
    render(i + 1) // synthesized while this one encodes
    signal.throwIfAborted()
    let handedOff = false
    const ingestOptions: IngestOptions = {
      dataDir,
      keys,
      signal,
      bitrates,
      onProgress: (f) => {
        fractions[i] = f
        progress.update(`demo ${i + 1}/${specs.length}: ${spec.title}`, fractions.reduce((a, b) => a + b, 0) / specs.length)
        if (!handedOff && f >= HANDOFF) {
          handedOff = true
          handoff()
        }
      },
      ...(options.workers !== undefined && { workers: options.workers }),
      ...(options.chunkSize !== undefined && { chunkSize: options.chunkSize }),
      ...(options.onWarning && { onWarning: options.onWarning }),
      ...(options.publisher && { publisher: options.publisher }),
    }
    const result = await ingestPcm(pcm, { trackId: spec.id, title: spec.title, artist: spec.artist, album: spec.album }, ingestOptions)
    fractions[i] = 1
    results.push(result)
    options.onTrack?.(result, results.length, specs.length)
    if (!handedOff) handoff()
  }

  try {
    await new Promise<void>((resolve, reject) => {
      const inFlight = new Set<number>()
      let next = 0
      let failed = false
      let waiting = false // a hand-off came while two were in flight: start the next when one ends
      const launch = (): void => {
        if (failed) return
        if (next >= specs.length) {
          if (inFlight.size === 0) resolve()
          return
        }
        if (inFlight.size >= 2) {
          waiting = true
          return
        }
        const i = next++
        inFlight.add(i)
        ingestOne(i, launch).then(
          () => {
            inFlight.delete(i)
            if (waiting) {
              waiting = false
              launch()
            } else if (!failed && inFlight.size === 0 && next >= specs.length) resolve()
          },
          (err: unknown) => {
            inFlight.delete(i)
            if (!failed) {
              failed = true
              failure.abort(err)
              // Wait for the other track in flight to stop, so nothing runs after we return.
              const settle = (): void => (inFlight.size === 0 ? reject(options.signal?.aborted ? options.signal.reason : err) : void setTimeout(settle, 20))
              settle()
            }
          },
        )
      }
      launch()
    })
  } finally {
    progress.done()
    await synth.close()
  }
  return results
}
