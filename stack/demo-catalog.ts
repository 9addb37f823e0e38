import { rm, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { DEMO_TRACKS } from '../origin/index.js'
import { ingestDemo } from '../origin/index.js'
import type { DemoOptions, IngestResult } from '../origin/index.js'
import { createStore } from '../origin/index.js'
import type { CatalogEvent } from './catalog-events.js'

/**
 * Present in the data directory while the demo catalog is being created: a first run stopped
 * part way (Ctrl-C) goes on with the missing tracks at the next start, however many are there.
 */
export const DEMO_MARKER = '.demo-catalog-incomplete'

/** Where the demo catalog goes when not into dataDir's own catalog: an R2 bucket, say. */
interface DemoTarget {
  publisher: NonNullable<DemoOptions['publisher']>
  /** The catalog the publisher publishes into, read afresh. */
  catalog: () => Promise<Array<{ trackId: string }>>
  /** Where DEMO_MARKER goes: beside that catalog, so that another catalog's first run does not read it. */
  markerDir: string
  /** How the notices name that catalog. */
  label: string
}

export interface DemoCatalogOptions {
  /** Holds the signing key; and the catalog, unless `target` names another. */
  dataDir: string
  target?: DemoTarget
  count: number
  durationSec?: number
  /** Stops an encode under way; a track is published whole or not at all. */
  signal: AbortSignal
  /** Milliseconds since the stack began (the events carry it). */
  elapsed: () => number
  onEvent: (e: CatalogEvent) => void
  onTrack: (r: IngestResult) => void
  onNotice: (line: string) => void
}

export interface DemoCatalog {
  /** Whether this start builds (or goes on with) the demo catalog. */
  readonly building: boolean
  /** Tracks in the catalog now. */
  tracks(): number
  complete(): boolean
  /** Settles once the build is over: complete, failed or stopped (never rejects). */
  readonly finished: Promise<void>
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  )
}

/** Demo tracks (of the first `count`) not in the catalog. */
async function missingDemoTracks(catalog: () => Promise<Array<{ trackId: string }>>, count: number): Promise<number> {
  const have = new Set((await catalog()).map((e) => e.trackId))
  return DEMO_TRACKS.slice(0, count).filter((t) => !have.has(t.id)).length
}

/**
 * When the catalog is empty, or an earlier first run stopped part way, creates the demo catalog
 * in the background, track by track, while the servers start and serve.
 */
export async function startDemoCatalog(o: DemoCatalogOptions): Promise<DemoCatalog> {
  const catalog = o.target?.catalog ?? (() => createStore({ dataDir: o.dataDir, refreshMs: 0 }).catalog())
  const marker = join(o.target?.markerDir ?? o.dataDir, DEMO_MARKER)
  const tracksAtStart = (await catalog()).length
  const building = tracksAtStart === 0 || (await exists(marker))
  let tracks = tracksAtStart
  let complete = !building
  const done = { building, tracks: () => tracks, complete: () => complete }
  if (!building) return { ...done, finished: Promise.resolve() }

  await writeFile(marker, `${JSON.stringify({ startedAt: new Date().toISOString(), count: o.count, ...(o.durationSec !== undefined && { durationSec: o.durationSec }) })}\n`)
  const where = o.target?.label ?? o.dataDir
  o.onNotice(
    tracksAtStart === 0
      ? `catalog in ${where} is empty: creating the demo catalog (${o.count} tracks) while the servers start; tracks join the catalog as they are ready`
      : `going on with the demo catalog in ${where} (${tracksAtStart} track(s) there)`,
  )
  const finished = ingestDemo(o.dataDir, {
    ...(o.durationSec !== undefined && { durationSec: o.durationSec }),
    count: o.count,
    skipExisting: true,
    ...(o.target && { publisher: o.target.publisher, existing: catalog }),
    signal: o.signal,
    progressBar: false,
    onWarning: (message) => o.onNotice(`warning: ${message}`),
    onTrack: (r, n, total) => {
      tracks++
      o.onTrack(r)
      o.onEvent({ kind: 'track', track: r, done: n, total, tracks, ms: o.elapsed() })
    },
  }).then(
    async (built) => {
      await rm(marker, { force: true })
      complete = true
      o.onEvent({ kind: 'complete', tracks, ms: o.elapsed(), built: built.length })
    },
    async (err: Error) => {
      // Ctrl-C reaches ffmpeg too: an encode that died of it is a stop, not a failure.
      if (!o.signal.aborted) await new Promise((r) => setTimeout(r, 300))
      if (o.signal.aborted) {
        // The catalog may be out of reach by now (a Ctrl-C reaches a local bucket's workerd too): then
        // what this run knows. `finished` never rejects, or the stop that awaits it would not go on.
        const missing = await missingDemoTracks(catalog, o.count).catch(() => Math.max(0, o.count - tracks))
        o.onEvent({ kind: 'stopped', tracks, missing, ms: o.elapsed() })
      } else o.onEvent({ kind: 'failed', error: err.message, tracks, ms: o.elapsed() })
    },
  )
  return { ...done, finished }
}
