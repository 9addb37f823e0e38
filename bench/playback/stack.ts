import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import type { Readable } from 'node:stream'
import { bundleWorkerScript } from '../../support/worker-bundle.js'
import { Miniflare } from 'miniflare'
import { readWranglerVars } from '../../edge/index.js'
import { startOrigin } from '../../origin/index.js'
import { createTrackerServer } from '../../tracker/index.js'
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
  bytes: Record<string, number>
  hitRatio: number
  byteHitRatio: number
  origin: { requests: number }
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
    const origin = await startOrigin({ dataDir: options.dataDir, env: { CHORUS_API_KEYS: API_KEY } })
    stops.push(() => origin.close())
    const originLink: DelayProxy = await startDelayProxy(origin.url, options.originRttMs / 2)
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
      keysUrl: origin.url,
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
