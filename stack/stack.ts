import { buildPlayer } from '../client-sdk/index.js'
import { loadOriginKeys } from '../origin/index.js'
import { type Supervised, stopAll } from '../support/process.js'
import type { CatalogEvent } from './catalog-events.js'
import { type DemoCatalog, startDemoCatalog } from './demo-catalog.js'
import { CATALOG_STOP_MS, PART_STOP_MS, type StartedPart, StackStopped, edgePurger, readyStack, runOperatorToken, startChorusPart } from './parts.js'

export { StackStopped }

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

  const operatorToken = runOperatorToken(o.env)
  const env = { ...o.env, CHORUS_OPERATOR_TOKEN: operatorToken, CHORUS_EDGE_PURGE_TOKEN: operatorToken }
  const purger = edgePurger(operatorToken)
  const catalog = await startDemoCatalog({
    dataDir: o.dataDir,
    count: o.demo.count,
    ...(o.demo.durationSec !== undefined && { durationSec: o.demo.durationSec }),
    signal,
    elapsed: o.elapsed,
    onEvent: o.onCatalog,
    onNotice: o.onNotice,
    onTrack: (r) => purger.purgeSoon(r.trackId),
  })

  const children: Supervised[] = []
  const start = (part: Parameters<typeof startChorusPart>[0]) => startChorusPart(part, env, children, signal)
  const stop = async () => {
    halt.abort()
    await Promise.race([catalog.finished, new Promise((r) => setTimeout(r, CATALOG_STOP_MS).unref())])
    await stopAll(children, PART_STOP_MS)
  }
  const stopped = () => {
    if (signal.aborted) throw new StackStopped('stopped before the servers were up')
  }

  let parts: StartedPart[]
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

  purger.setEdge(parts[2]!.url)
  return readyStack(o, parts, { operatorToken, catalog, children, stop })
}
