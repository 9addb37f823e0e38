import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import type { Readable } from 'node:stream'
import { bundleWorkerScript } from '../../support/worker-bundle.js'
import { Miniflare } from 'miniflare'
import { readWranglerVars } from '../../edge/index.js'
import { createTrackerServer } from '../../tracker/index.js'
import { startProcess } from '../../support/process.js'
import { ROOT } from '../src/process.js'
import { onInterrupt } from './cleanup.js'
import { type DelayProxy, startDelayProxy } from './delay-proxy.js'

/**
 * The servers of one phase, all real: the origin (Node), a delaying proxy in front of it (the
 * edge's round trip to the origin), the edge Worker in workerd through the Miniflare API (no
 * wrangler proxy, which would be the bottleneck: see ANCHORS.md), with wrangler.toml's [vars],
 * and the tracker on a `ws` server. Each phase gets fresh ones: a cold edge, an empty tracker.
 */
export interface Stack {
  edgeUrl: string
  /**
   * The key service: the origin's own address, not through the edge-to-origin proxy. Keys never
   * pass the edge; the key service runs where the edge runs (the origin Worker, in every location:
   * origin/README.md), so a listener reaches it over its own round trip to the edge, which its
   * `fetch` adds.
   */
  keysUrl: string
  /** http://host:port of the tracker (its WebSocket is at /announce). */
  trackerUrl: string
  /** Bytes the origin sent the edge. */
  originBytes(): number
  edgeStats(): Promise<EdgeStats | undefined>
  stop(): Promise<void>
}

export interface EdgeStats {
  requests: Record<string, number>
  hits: { memory: number; cache: number }
  misses: number
  stale: number
  bytes: Record<string, number>
  hitRatio: number
  byteHitRatio: number
  origin: { requests: number }
}

/** What the edge did between two of its snapshots (the ratios recomputed as the edge computes them). */
export function edgeStatsSince(before: EdgeStats, after: EdgeStats): EdgeStats {
  const diff = (a: Record<string, number>, b: Record<string, number>) => Object.fromEntries(Object.entries(b).map(([k, v]) => [k, v - (a[k] ?? 0)]))
  const hits = { memory: after.hits.memory - before.hits.memory, cache: after.hits.cache - before.hits.cache }
  const misses = after.misses - before.misses
  const stale = after.stale - before.stale
  const bytes = diff(before.bytes, after.bytes)
  const served = hits.memory + hits.cache + stale
  const hitBytes = (bytes.memory ?? 0) + (bytes.cache ?? 0) + (bytes.stale ?? 0)
  const allBytes = hitBytes + (bytes.origin ?? 0)
  return {
    requests: diff(before.requests, after.requests),
    hits,
    misses,
    stale,
    bytes,
    hitRatio: served + misses ? served / (served + misses) : 0,
    byteHitRatio: allBytes ? hitBytes / allBytes : 0,
    origin: { requests: after.origin.requests - before.origin.requests },
  }
}

/** A key service in use: one session with a key asked of it, so that its first listener does not pay its start. */
export async function warmKeyService(keysUrl: string, trackId: string): Promise<void> {
  const res = await fetch(`${keysUrl}/v1/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ apiKey: API_KEY, keys: [trackId] }) })
  await res.arrayBuffer()
  if (res.status !== 200) throw new Error(`warming the key service: a session answered ${res.status}`)
}

/**
 * A location in use: every track's head asked of the edge once, as earlier listeners there would
 * have (a few at a time), so that a listener's cold play meets an edge that has played the track
 * before; the rest of each track is still cold.
 */
export async function warmHeads(edgeUrl: string, trackIds: readonly string[]): Promise<void> {
  const queue = [...trackIds]
  const worker = async () => {
    for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
      const res = await fetch(`${edgeUrl}/v1/tracks/${encodeURIComponent(id)}/head`)
      await res.arrayBuffer()
      if (res.status !== 200) throw new Error(`warming the edge: the head of ${id} answered ${res.status}`)
    }
  }
  await Promise.all(Array.from({ length: 4 }, worker))
}

const COMPATIBILITY_DATE = '2026-04-01'

export const API_KEY = 'bench-key'

/** The edge Worker bundled as wrangler bundles it; the caller removes `dir`. */
export async function bundleEdgeWorker(dir: string): Promise<string> {
  return bundleWorkerScript(join(ROOT, 'edge/src/worker.ts'), join(dir, 'edge-worker.js'))
}

export async function startStack(options: { dataDir: string; publicKey: string; workerScript: string; originRttMs: number; edgeVars?: Record<string, string> }): Promise<Stack> {
  const stops: Array<() => Promise<void>> = []
  const stop = async () => {
    forget()
    for (const s of stops.splice(0).reverse()) await s().catch(() => {})
  }
  const forget = onInterrupt(stop)
  try {
    // Its own process, as `chorus start` runs it: the key service it is here answers beside the
    // tracker and the proxies in this one, not behind them (deployed, they are apart).
    const origin = await startProcess({
      name: 'origin',
      args: [join(ROOT, 'bin/chorus.js'), 'origin', '--data', options.dataDir, '--port', '0', '--quiet', '--json'],
      env: { ...process.env, CHORUS_API_KEYS: API_KEY },
      ready: 'json-line',
    })
    stops.push(async () => void (await origin.stop()))
    const originLink: DelayProxy = await startDelayProxy(origin.readyValue.url, options.originRttMs / 2)
    stops.push(() => originLink.close())
    const vars = Object.fromEntries(Object.entries(await readWranglerVars()).map(([k, v]) => [k, String(v)]))
    // The edge's stats are for operators: this run is its operator.
    const operatorToken = randomBytes(18).toString('base64url')
    const persist = await mkdtemp(join(tmpdir(), 'chorus-bench-edge-'))
    stops.push(() => rm(persist, { recursive: true, force: true }))
    const mf = new Miniflare({
      modules: true,
      scriptPath: options.workerScript,
      modulesRoot: dirname(options.workerScript),
      compatibilityDate: COMPATIBILITY_DATE,
      bindings: { ...vars, ...options.edgeVars, ORIGIN_URL: originLink.url, ORIGIN_PUBLIC_KEY: options.publicKey, OPERATOR_TOKEN: operatorToken },
      cachePersist: join(persist, 'cache'),
      host: '127.0.0.1',
      port: 0,
      // workerd logs each request a listener abandons (a skip, a cancelled fetch) as an error: noise here.
      handleRuntimeStdio: (stdout: Readable, stderr: Readable) => {
        stdout.resume()
        stderr.resume()
      },
    })
    stops.push(() => mf.dispose())
    const edgeUrl = (await mf.ready).href.replace(/\/$/, '')
    const tracker = createTrackerServer({})
    const { url: trackerUrl } = await tracker.listen()
    stops.push(() => tracker.close())
    return {
      edgeUrl,
      keysUrl: origin.readyValue.url,
      trackerUrl,
      originBytes: () => originLink.bytesDown,
      async edgeStats() {
        try {
          return (await (await fetch(`${edgeUrl}/_chorus/stats`, { headers: { authorization: `Bearer ${operatorToken}` } })).json()) as EdgeStats
        } catch {
          return undefined
        }
      },
      stop,
    }
  } catch (err) {
    await stop()
    throw err
  }
}
