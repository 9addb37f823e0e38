import { type ChildProcess, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { rm, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { buildPlayer } from '../client-sdk/player/build.js'
import { DEMO_API_KEY } from '../origin/src/api-keys.js'
import { DEMO_TRACKS } from '../origin/src/audio/demo-music.js'
import { ingestDemo } from '../origin/src/cli.js'
import type { IngestResult } from '../origin/src/ingest.js'
import { loadOriginKeys } from '../origin/src/keys.js'
import { createStore } from '../origin/src/store.js'
import { type Command, DEFAULT_PORTS, defaultDataDir, intOption, parseCommandArgs, untilSignal } from './command.js'

const CHORUS = new URL('../bin/chorus.js', import.meta.url).pathname
const READY_TIMEOUT_MS = 180_000
/** How long the origin reuses a read of its catalog listing (store.ts, refreshMs). */
const ORIGIN_LISTING_MS = 1000

/**
 * Present in the data directory while the demo catalog is being created: a first run stopped
 * part way (Ctrl-C) goes on with the missing tracks at the next start, however many are there.
 */
export const DEMO_MARKER = '.demo-catalog-incomplete'

/** One server of the stack, started as its own `chorus <part>` process. */
interface Part {
  name: string
  args: string[]
  health: (ready: Record<string, unknown>) => string
}

interface Running {
  name: string
  child: ChildProcess
  ready: Record<string, unknown> & { url: string }
}

function startPart(part: Part, env: NodeJS.ProcessEnv, onSpawn: (child: ChildProcess) => void): Promise<Running> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHORUS, part.name, ...part.args, '--json'], { env, stdio: ['ignore', 'pipe', 'pipe'] })
    onSpawn(child)
    let stderr = ''
    let stdout = ''
    child.stderr!.on('data', (d) => {
      stderr = (stderr + d).slice(-4000)
    })
    // A part that neither answers nor dies must not hold the whole start forever.
    const timer = setTimeout(() => {
      child.off('exit', onExit)
      child.kill('SIGKILL')
      reject(new Error(`${part.name} did not become ready in ${READY_TIMEOUT_MS / 1000} s: ${stderr.trim().split('\n').slice(-3).join(' / ') || 'no output'}`))
    }, READY_TIMEOUT_MS)
    const onData = (d: Buffer) => {
      stdout += d
      const line = stdout.split('\n').find((l) => l.startsWith('{"ready"'))
      if (!line) return
      clearTimeout(timer)
      child.stdout!.off('data', onData)
      child.stdout!.resume()
      child.off('exit', onExit)
      resolve({ name: part.name, child, ready: JSON.parse(line) })
    }
    const onExit = (code: number | null) => {
      clearTimeout(timer)
      const cause = stderr.trim().split('\n').filter(Boolean).slice(-3).join(' / ') || `exit code ${code}`
      reject(new Error(`${part.name} failed to start: ${cause}`))
    }
    child.stdout!.on('data', onData)
    child.once('exit', onExit)
  })
}

function stopAll(children: ChildProcess[]): Promise<void> {
  return Promise.all(
    children.map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve()
          child.once('exit', () => resolve())
          child.kill('SIGTERM')
          setTimeout(() => child.kill('SIGKILL'), 5000).unref()
        }),
    ),
  ).then(() => undefined)
}

function formatDuration(ms: number): string {
  const s = Math.round(ms / 1000)
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`
}

/** What the background catalog build reports, as printed: a JSON line (--json, stdout) and a human line (stderr). */
export type CatalogEvent =
  | { kind: 'track'; track: Pick<IngestResult, 'trackId' | 'title' | 'durationMs' | 'codec'>; done: number; total: number; tracks: number; ms: number }
  | { kind: 'complete'; tracks: number; ms: number; built: number }
  | { kind: 'failed'; error: string; tracks: number; ms: number }
  | { kind: 'stopped'; tracks: number; missing: number; ms: number }

export function catalogJson(e: CatalogEvent): Record<string, unknown> {
  const ms = Math.round(e.ms)
  switch (e.kind) {
    case 'track':
      return { catalog: 'track', trackId: e.track.trackId, title: e.track.title, durationMs: e.track.durationMs, codec: e.track.codec, done: e.done, of: e.total, tracks: e.tracks, ms }
    case 'complete':
      return { catalog: 'complete', tracks: e.tracks, ms }
    case 'failed':
      return { catalog: 'failed', error: e.error, tracks: e.tracks, ms }
    case 'stopped':
      return { catalog: 'stopped', tracks: e.tracks, missing: e.missing, ms }
  }
}

export function catalogText(e: CatalogEvent): string {
  const at = `${(e.ms / 1000).toFixed(1)} s`
  switch (e.kind) {
    case 'track':
      return `demo ${String(e.done).padStart(String(e.total).length)}/${e.total} ready: ${e.track.trackId}  ${formatDuration(e.track.durationMs)}  ${e.track.title}  (at ${at})`
    case 'complete':
      return e.built > 0 ? `demo catalog complete: ${e.tracks} tracks, at ${at}` : `catalog: ${e.tracks} tracks`
    case 'failed':
      return `demo catalog failed after ${e.tracks} track(s): ${e.error}; the servers go on, and the next start tries the missing tracks again`
    case 'stopped':
      return `demo catalog stopped with ${e.missing} track(s) to go; the next start goes on with them`
  }
}

/** Demo tracks (of the first `count`) not in the catalog. */
async function missingDemoTracks(dataDir: string, count: number): Promise<number> {
  const have = new Set((await createStore({ dataDir, refreshMs: 0 }).catalog()).map((e) => e.trackId))
  return DEMO_TRACKS.slice(0, count).filter((t) => !have.has(t.id)).length
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  )
}

export const start: Command = {
  summary: 'run the whole stack on localhost with the demo catalog',
  help: `Usage: chorus start [options]       (npm start)

Starts every part of Chorus on localhost, each as its own process, and prints one line of
health for each once all answer. When the catalog is empty it creates the demo catalog in the
background meanwhile: the servers answer within seconds and each track joins the catalog as it
is encoded (one line each, then one when the catalog is complete). Ctrl-C or SIGTERM stops every
process it started, and an encode under way; a track is published whole or not at all, and the
next start goes on with the tracks still missing.

Options:
  --data DIR            catalog directory (default: $CHORUS_DATA or ./data)
  --host HOST           address every part listens on (default: 127.0.0.1)
  --origin-port PORT    (default: ${DEFAULT_PORTS.origin}; env CHORUS_ORIGIN_PORT)
  --tracker-port PORT   (default: ${DEFAULT_PORTS.tracker}; env CHORUS_TRACKER_PORT)
  --edge-port PORT      (default: ${DEFAULT_PORTS.edge}; env CHORUS_EDGE_PORT): the player's address
  --no-p2p              the web player plays from the edge alone (no tracker, no peers)
  --demo-duration S     make the demo tracks S seconds long (quick start for tests)
  --demo-count N        only the first N demo tracks (default: all ${DEMO_TRACKS.length})
  env CHORUS_API_KEY    the API key the web player uses (default: the demo key)
  --json                print one JSON line with every part's URL once all answer, then one
                        line per demo track ({"catalog":"track",...}) and a last one
                        ({"catalog":"complete","tracks":N,"ms":...})
  -h, --help            this help
`,
  async run(argv) {
    const startedAt = performance.now()
    const elapsed = () => performance.now() - startedAt
    const { values } = parseCommandArgs(argv, {
      data: { type: 'string' },
      host: { type: 'string' },
      'origin-port': { type: 'string' },
      'tracker-port': { type: 'string' },
      'edge-port': { type: 'string' },
      'no-p2p': { type: 'boolean' },
      'demo-duration': { type: 'string' },
      'demo-count': { type: 'string' },
      json: { type: 'boolean' },
    })
    const env = process.env
    const dataDir = values.data ?? defaultDataDir(env)
    const host = values.host ?? '127.0.0.1'
    const originPort = intOption(values['origin-port'] ?? env.CHORUS_ORIGIN_PORT, 'origin-port', DEFAULT_PORTS.origin, 0, 65535)
    const trackerPort = intOption(values['tracker-port'] ?? env.CHORUS_TRACKER_PORT, 'tracker-port', DEFAULT_PORTS.tracker, 0, 65535)
    const edgePort = intOption(values['edge-port'] ?? env.CHORUS_EDGE_PORT, 'edge-port', DEFAULT_PORTS.edge, 0, 65535)
    const demoDuration = values['demo-duration'] === undefined ? undefined : intOption(values['demo-duration'], 'demo-duration', 0, 1, 3600)
    const demoCount = intOption(values['demo-count'], 'demo-count', DEMO_TRACKS.length, 1, DEMO_TRACKS.length)
    const json = values.json === true
    const say = (line: string) => process.stderr.write(`${line}\n`)

    // Ctrl-C from here on stops the servers and the catalog build alike (a second one kills).
    const stop = new AbortController()
    const signalled = untilSignal().then((signal) => {
      stop.abort(new DOMException(`stopped by ${signal}`, 'AbortError'))
      return `${signal}`
    })

    const marker = join(dataDir, DEMO_MARKER)
    const tracksAtStart = (await createStore({ dataDir }).catalog()).length
    const buildDemo = tracksAtStart === 0 || (await exists(marker))
    // The signing key exists before the origin and the ingest both look for it: two processes
    // creating it at once on a fresh directory would sign with one key and serve the other.
    const originKeys = await loadOriginKeys(dataDir)
    if (buildDemo) {
      await writeFile(marker, `${JSON.stringify({ startedAt: new Date().toISOString(), count: demoCount, ...(demoDuration !== undefined && { durationSec: demoDuration }) })}\n`)
      say(
        tracksAtStart === 0
          ? `catalog in ${dataDir} is empty: creating the demo catalog (${demoCount} tracks) while the servers start; tracks join the catalog as they are ready`
          : `going on with the demo catalog in ${dataDir} (${tracksAtStart} track(s) there)`,
      )
    }

    // Catalog lines wait for the ready line, so that it comes first.
    let readyPrinted = false
    const held: CatalogEvent[] = []
    const emit = (e: CatalogEvent) => {
      if (!readyPrinted) return void held.push(e)
      if (json) process.stdout.write(`${JSON.stringify(catalogJson(e))}\n`)
      say(catalogText(e))
    }
    // The edge keeps the track list for MANIFEST_TTL_SEC (10 s); with a purge secret of this run's
    // own, each new track is purged from it so that it shows at once. The purge waits out the
    // origin's own reuse of its listing (1 s, store.ts refreshMs), or the edge would fetch and
    // keep a list from just before the track landed.
    const purgeToken = buildDemo ? randomBytes(24).toString('base64url') : undefined
    let edgeUrl: string | undefined
    const purge = async (trackId: string) => {
      if (!edgeUrl || !purgeToken) return
      await fetch(`${edgeUrl}/_chorus/purge`, { method: 'POST', headers: { authorization: `Bearer ${purgeToken}`, 'content-type': 'application/json' }, body: JSON.stringify({ track: trackId }), signal: AbortSignal.timeout(5000) })
        .then((r) => r.body?.cancel())
        .catch(() => undefined)
    }

    let tracksNow = tracksAtStart
    let catalogDone = !buildDemo
    const catalog: Promise<void> = !buildDemo
      ? Promise.resolve()
      : ingestDemo(dataDir, {
          ...(demoDuration !== undefined && { durationSec: demoDuration }),
          count: demoCount,
          json,
          skipExisting: true,
          signal: stop.signal,
          progressBar: false,
          onWarning: (message) => say(`warning: ${message}`),
          onTrack: (r, done, total) => {
            tracksNow++
            setTimeout(() => void purge(r.trackId), ORIGIN_LISTING_MS + 200).unref()
            emit({ kind: 'track', track: r, done, total, tracks: tracksNow, ms: elapsed() })
          },
        }).then(
          async (built) => {
            await rm(marker, { force: true })
            catalogDone = true
            emit({ kind: 'complete', tracks: tracksNow, ms: elapsed(), built: built.length })
          },
          async (err: Error) => {
            // Ctrl-C reaches ffmpeg too: an encode that died of it is a stop, not a failure.
            if (!stop.signal.aborted) await new Promise((r) => setTimeout(r, 300))
            if (stop.signal.aborted) emit({ kind: 'stopped', tracks: tracksNow, missing: await missingDemoTracks(dataDir, demoCount), ms: elapsed() })
            else emit({ kind: 'failed', error: err.message, tracks: tracksNow, ms: elapsed() })
          },
        )

    const children: ChildProcess[] = []
    const spawned = (child: ChildProcess) => void children.push(child)
    const parts: Part[] = [
      { name: 'origin', args: ['--data', dataDir, '--host', host, '--port', String(originPort), '--quiet'], health: (r) => `${r.tracks} tracks, manifest key ${String(r.keyId)}` },
      // Auth on: only listeners with a session token for the tracker learn peers, offers or swarm sizes.
      { name: 'tracker', args: ['--host', host, '--port', String(trackerPort), `--auth-key=${originKeys.publicKey}`], health: () => 'WebSocket at /announce (session tokens required)' },
    ]
    const running: Running[] = []
    /** Startup failed or was stopped: the catalog build and whatever started go, together. */
    const abandon = async (err: unknown): Promise<number> => {
      const bySignal = stop.signal.aborted
      stop.abort(err)
      await Promise.all([stopAll(children), catalog])
      if (bySignal) return 0
      throw err
    }
    try {
      // The origin and the tracker start side by side; the edge needs the origin's address and key.
      const started = await Promise.allSettled(parts.map((part) => startPart(part, env, spawned)))
      for (const r of started) if (r.status === 'fulfilled') running.push(r.value)
      const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected')
      if (failed) throw failed.reason
      if (stop.signal.aborted) throw new Error('stopped before the servers were up')
      const origin = running[0]!.ready
      // The page learns from config.json where the tracker and the origin are and which key to use.
      await buildPlayer({
        tracker: `${running[1]!.ready.url.replace(/^http/, 'ws')}/announce`,
        origin: origin.url,
        apiKey: env.CHORUS_API_KEY ?? DEMO_API_KEY,
        publicKey: String(origin.publicKey),
        p2p: values['no-p2p'] !== true,
      })
      if (stop.signal.aborted) throw new Error('stopped before the servers were up')
      const edge: Part = {
        name: 'edge',
        // --name=value: a base64url key may start with '-', which a separate argument would turn into a flag.
        args: [`--origin=${origin.url}`, `--public-key=${String(origin.publicKey)}`, '--host', host, '--port', String(edgePort)],
        health: () => 'workerd (wrangler dev)',
      }
      parts.push(edge)
      // The purge secret travels in the environment, not on a command line that `ps` shows.
      running.push(await startPart(edge, { ...env, ...(purgeToken && { CHORUS_EDGE_PURGE_TOKEN: purgeToken }) }, spawned))
    } catch (err) {
      return abandon(err)
    }
    const urls = Object.fromEntries(running.map((r) => [r.name, r.ready.url])) as Record<string, string>
    const tracker = `${urls.tracker!.replace(/^http/, 'ws')}/announce`
    edgeUrl = urls.edge
    if (json) {
      process.stdout.write(
        `${JSON.stringify({ ready: true, url: urls.edge, player: `${urls.edge}/`, operator: `${urls.edge}/operator`, origin: urls.origin, edge: urls.edge, tracker, catalog: catalogDone ? 'complete' : 'building', tracks: tracksNow, ms: Math.round(elapsed()) })}\n`,
      )
    }
    say(`player   ${urls.edge}/`)
    for (const [i, r] of running.entries()) say(`${r.name.padEnd(8)} ${r.ready.url}  ${parts[i]!.health(r.ready)}`)
    say(`data: ${join(dataDir)}; Ctrl-C stops everything`)
    if (!catalogDone) say(`demo catalog: ${tracksNow} of ${demoCount} tracks ready; the rest join the catalog as they are encoded`)
    readyPrinted = true
    for (const e of held.splice(0)) emit(e)
    if (!buildDemo) emit({ kind: 'complete', tracks: tracksNow, ms: elapsed(), built: 0 })

    const exited = new Promise<string>((resolve) => {
      for (const r of running) r.child.once('exit', (code) => resolve(`${r.name} exited (code ${code})`))
    })
    const why = await Promise.race([signalled, exited])
    stop.abort(new DOMException(why, 'AbortError'))
    // The catalog build stops first (an encode is killed, a publish under way finishes), then the servers.
    await Promise.race([catalog, new Promise((r) => setTimeout(r, 15_000).unref())])
    await stopAll(children)
    if (why.includes('exited')) {
      say(`chorus start: ${why}; stopped the rest`)
      return 1
    }
    return 0
  },
}
