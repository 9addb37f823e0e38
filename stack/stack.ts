import { randomBytes } from 'node:crypto'
import { buildPlayer } from '../client-sdk/index.js'
import { loadOriginKeys } from '../origin/index.js'
import { type Supervised, stopAll, supervise } from '../support/process.js'
import type { CatalogEvent } from './catalog-events.js'
import { type DemoCatalog, startDemoCatalog } from './demo-catalog.js'

const CHORUS = new URL('../bin/chorus.js', import.meta.url).pathname
const READY_TIMEOUT_MS = 180_000
/** How long the origin reuses a read of its catalog listing (origin store, refreshMs). */
const ORIGIN_LISTING_MS = 1000
/** How long a stop waits for the catalog build (an encode is killed, a publish under way finishes). */
const CATALOG_STOP_MS = 15_000

export interface StackOptions {
  dataDir: string
  /** The address every part listens on. */
  host: string
  /** 0: a free port. */
  ports: { origin: number; tracker: number; edge: number }
  /** False: the web player plays from the edge alone. */
  p2p: boolean
  iceServers?: RTCIceServer[]
  /** The API key the web player uses. */
  apiKey: string
  demo: { count: number; durationSec?: number }
  /** The parts' environment; its CHORUS_OPERATOR_TOKEN, when set, is the operator token. */
  env: NodeJS.ProcessEnv
  /** Aborted: a start under way stops, and so does the catalog build. */
  signal: AbortSignal
  /** Milliseconds since the start began, for the catalog events. */
  elapsed: () => number
  onCatalog: (e: CatalogEvent) => void
  /** Lines for the operator (the demo catalog's start, warnings). */
  onNotice: (line: string) => void
}

export interface StackPart {
  name: 'origin' | 'tracker' | 'edge'
  url: string
  /** One line of health, as the part reported it when ready. */
  health: string
}

export interface Stack {
  urls: { player: string; operator: string; origin: string; edge: string; tracker: string }
  operatorToken: string
  parts: StackPart[]
  catalog: DemoCatalog
  /** Resolves with a reason when a part exits by itself. */
  exited: Promise<string>
  /** The catalog build first (an encode is killed, a publish under way finishes), then every part. */
  stop(): Promise<void>
}

/** Why a start ended early: the caller's signal, not a failure. */
export class StackStopped extends Error {
  override name = 'StackStopped'
}

function aborted(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    const fail = () => reject(new StackStopped('stopped before the servers were up'))
    if (signal.aborted) fail()
    else signal.addEventListener('abort', fail, { once: true })
  })
}

interface PartSpec {
  name: StackPart['name']
  args: string[]
  health: (ready: Record<string, unknown>) => string
}

/**
 * The whole of Chorus on one machine: the origin and the tracker side by side, the web player
 * built for them, then the edge in front of the origin; each part its own `chorus <part>`
 * process. Meanwhile, on an empty catalog, the demo catalog is created in the background.
 */
export async function startStack(o: StackOptions): Promise<Stack> {
  const halt = new AbortController()
  const signal = AbortSignal.any([o.signal, halt.signal])
  // The signing key exists before the origin and the ingest both look for it: two processes
  // creating it at once on a fresh directory would sign with one key and serve the other.
  const originKeys = await loadOriginKeys(o.dataDir)

  // One operator token per run (or the operator's own, from the environment) guards every
  // part's operator endpoints: metrics, edge stats, purge. It travels in the environment, not
  // on a command line that `ps` shows, and reaches the operator page in a URL fragment, which
  // a browser never sends to a server.
  const operatorToken = o.env.CHORUS_OPERATOR_TOKEN || randomBytes(24).toString('base64url')
  const env = { ...o.env, CHORUS_OPERATOR_TOKEN: operatorToken, CHORUS_EDGE_PURGE_TOKEN: operatorToken }

  // The edge keeps the track list for MANIFEST_TTL_SEC (10 s); each new track is purged from it
  // so that it shows at once. The purge waits out the origin's own reuse of its listing, or the
  // edge would fetch and keep a list from just before the track landed.
  let edgeUrl: string | undefined
  const purge = async (trackId: string) => {
    if (!edgeUrl) return
    await fetch(`${edgeUrl}/_chorus/purge`, {
      method: 'POST',
      headers: { authorization: `Bearer ${operatorToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ track: trackId }),
      signal: AbortSignal.timeout(5000),
    })
      .then((r) => r.body?.cancel())
      .catch(() => undefined)
  }
  const catalog = await startDemoCatalog({
    dataDir: o.dataDir,
    count: o.demo.count,
    ...(o.demo.durationSec !== undefined && { durationSec: o.demo.durationSec }),
    signal,
    elapsed: o.elapsed,
    onEvent: o.onCatalog,
    onNotice: o.onNotice,
    onTrack: (r) => void setTimeout(() => void purge(r.trackId), ORIGIN_LISTING_MS + 200).unref(),
  })

  const children: Supervised[] = []
  const start = async (part: PartSpec) => {
    const p = supervise({ name: part.name, args: [CHORUS, part.name, ...part.args, '--json'], env })
    children.push(p)
    // A stop (Ctrl-C) does not wait out a part that is still starting.
    const ready = await Promise.race([p.ready('json-line', READY_TIMEOUT_MS), aborted(signal)])
    return { name: part.name, url: ready.url, health: part.health(ready), ready }
  }
  const stop = async () => {
    halt.abort()
    await Promise.race([catalog.finished, new Promise((r) => setTimeout(r, CATALOG_STOP_MS).unref())])
    await stopAll(children)
  }
  const stopped = () => {
    if (signal.aborted) throw new StackStopped('stopped before the servers were up')
  }

  let parts: Array<StackPart & { ready: Record<string, unknown> }>
  try {
    // The origin and the tracker start side by side; the edge needs the origin's address and key.
    const first = await Promise.allSettled([
      start({ name: 'origin', args: ['--data', o.dataDir, '--host', o.host, '--port', String(o.ports.origin), '--quiet'], health: (r) => `${r.tracks} tracks, manifest key ${String(r.keyId)}` }),
      // Auth on: only listeners with a session token for the tracker learn peers, offers or swarm sizes.
      start({ name: 'tracker', args: ['--host', o.host, '--port', String(o.ports.tracker), `--auth-key=${originKeys.publicKey}`], health: () => 'WebSocket at /announce (session tokens required)' }),
    ])
    stopped()
    const failed = first.find((r): r is PromiseRejectedResult => r.status === 'rejected')
    if (failed) throw failed.reason
    const [origin, tracker] = first.map((r) => (r as PromiseFulfilledResult<Awaited<ReturnType<typeof start>>>).value) as [Awaited<ReturnType<typeof start>>, Awaited<ReturnType<typeof start>>]
    const publicKey = String(origin.ready.publicKey)
    // The page learns from config.json where the tracker and the origin are and which key to use.
    await buildPlayer({
      tracker: `${tracker.url.replace(/^http/, 'ws')}/announce`,
      origin: origin.url,
      apiKey: o.apiKey,
      publicKey,
      p2p: o.p2p,
      ...(o.iceServers && { iceServers: o.iceServers }),
    })
    stopped()
    // --name=value: a base64url key may start with '-', which a separate argument would turn into a flag.
    const edge = await start({ name: 'edge', args: [`--origin=${origin.url}`, `--public-key=${publicKey}`, '--host', o.host, '--port', String(o.ports.edge)], health: () => 'workerd (wrangler dev)' })
    parts = [origin, tracker, edge]
  } catch (err) {
    // Startup failed or was stopped: the catalog build and whatever started go, together.
    const bySignal = o.signal.aborted
    await stop()
    throw bySignal ? new StackStopped('stopped before the servers were up') : err
  }

  const url = (name: StackPart['name']) => parts.find((p) => p.name === name)!.url
  edgeUrl = url('edge')
  if (!catalog.building) o.onCatalog({ kind: 'complete', tracks: catalog.tracks(), ms: o.elapsed(), built: 0 })
  return {
    urls: {
      player: `${edgeUrl}/`,
      operator: `${edgeUrl}/operator#operator=${operatorToken}`,
      origin: url('origin'),
      edge: edgeUrl,
      tracker: `${url('tracker').replace(/^http/, 'ws')}/announce`,
    },
    operatorToken,
    parts: parts.map(({ name, url, health }) => ({ name, url, health })),
    catalog,
    exited: Promise.race(children.map((p) => p.exited.then((e) => `${p.name} exited (code ${e.code})`))),
    stop,
  }
}
