import { createServer, request as httpRequest } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Socket } from 'node:net'
import { rmSync } from 'node:fs'
import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { bundleWorkerScript } from '../support/worker-bundle.js'
import { Miniflare } from 'miniflare'
import type { Test } from 'tap'
import { CONFIG_VARS } from '../edge/index.js'
import { type IngestResult, type OriginServer, ingestFile, loadOriginKeys, startOrigin } from '../origin/index.js'
import { type Manifest, type SignedManifest, chunkPath } from '../protocol/index.js'
import { runChorus } from './chorus.js'
import { makeWav, tempDataDir } from './fixtures.js'

export const ROOT = new URL('../', import.meta.url).pathname
/** CACHE_HOST's default (edge/src/config.ts). */
const DEFAULT_CACHE_HOST = CONFIG_VARS.find((v) => v.name === 'CACHE_HOST')!.fallback!
export const COMPATIBILITY_DATE = '2026-04-01'

/** A catalog made the way an operator makes one: a WAV ingested by the origin's own code. */
export async function makeCatalog(t: Test, tracks: Array<{ trackId: string; seconds?: number }>): Promise<{ dataDir: string; tracks: IngestResult[] }> {
  const dataDir = await tempDataDir(t, 'chorus-edge-data')
  const keys = await loadOriginKeys(dataDir)
  const out: IngestResult[] = []
  for (const { trackId, seconds } of tracks) {
    const wav = join(dataDir, `${trackId}.wav`)
    await writeFile(wav, makeWav(seconds ?? 4))
    // Small chunks, so a few seconds of audio make enough of them for read-ahead and purge.
    out.push(await ingestFile(wav, { trackId }, { dataDir, keys, bitrates: [96], chunkSize: 4096, workers: 1 }))
  }
  return { dataDir, tracks: out }
}

export async function startTestOrigin(t: Test, dataDir: string): Promise<OriginServer> {
  const origin = await startOrigin({ dataDir, env: { CHORUS_API_KEYS: 'k' } })
  let closed = false
  t.teardown(() => (closed ? undefined : origin.close()))
  return {
    ...origin,
    close: async () => {
      closed = true
      await origin.close()
    },
  }
}

export interface Proxy {
  url: string
  /** Requests seen per path (query included). */
  seen: Map<string, number>
  count(path: string): number
  countPrefix(prefix: string): number
  /** When set, the body of a matching 200 answer has one byte flipped on its way through. */
  corrupt: ((path: string) => boolean) | undefined
  /** When set, a request for one path is answered with the origin's answer for another. */
  rewrite: ((path: string) => string | undefined) | undefined
  /** When set, matching requests are parked until release(): a fetch kept in flight for as long as a test needs. */
  hold: ((path: string) => boolean) | undefined
  /** Forwards the parked requests (those for `path`, or all). */
  release(path?: string): void
  close(): Promise<void>
}

/**
 * A real HTTP proxy in front of the origin: counts what the edge asks for and can turn into
 * a bad origin (flipped bytes, swapped answers) or one that does not answer (held requests). The origin itself stays untouched.
 */
export async function startProxy(t: Test, target: string): Promise<Proxy> {
  const base = new URL(target)
  const seen = new Map<string, number>()
  const sockets = new Set<Socket>()
  const held: Array<{ path: string; forward: () => void }> = []
  const proxy: Proxy = {
    url: '',
    seen,
    count: (path) => seen.get(path) ?? 0,
    countPrefix: (prefix) => [...seen].reduce((n, [p, c]) => (p.startsWith(prefix) ? n + c : n), 0),
    corrupt: undefined,
    rewrite: undefined,
    hold: undefined,
    release: (path) => {
      for (const [i, parked] of [...held.entries()].reverse()) {
        if (path !== undefined && parked.path !== path) continue
        held.splice(i, 1)
        parked.forward()
      }
    },
    close: async () => {},
  }
  const server = createServer((req, res) => {
    const path = req.url ?? '/'
    seen.set(path, (seen.get(path) ?? 0) + 1)
    const forward = () => {
      const upstreamPath = proxy.rewrite?.(path) ?? path
      const upstream = httpRequest({ host: base.hostname, port: base.port, method: req.method, path: upstreamPath, headers: { ...req.headers, host: base.host } }, (up) => {
        const parts: Buffer[] = []
        up.on('data', (d: Buffer) => parts.push(d))
        up.on('end', () => {
          const body = Buffer.concat(parts)
          if (up.statusCode === 200 && body.length > 0 && proxy.corrupt?.(path)) body[body.length >> 1]! ^= 0x01
          const headers = { ...up.headers }
          delete headers['transfer-encoding']
          res.writeHead(up.statusCode ?? 502, { ...headers, 'content-length': String(body.length) })
          res.end(body)
        })
      })
      upstream.on('error', () => {
        res.destroy()
      })
      req.pipe(upstream)
    }
    if (proxy.hold?.(path)) held.push({ path, forward })
    else forward()
  })
  server.on('connection', (s) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  proxy.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  let closed = false
  proxy.close = () => {
    if (closed) return Promise.resolve()
    closed = true
    return new Promise<void>((resolve) => {
      server.close(() => resolve())
      for (const s of sockets) s.destroy()
    })
  }
  t.teardown(() => proxy.close())
  return proxy
}

let bundled: Promise<string> | undefined

/** The Worker bundled as wrangler would bundle it (esbuild, ESM, the workerd/browser conditions). */
export function bundleWorker(): Promise<string> {
  bundled ??= (async () => {
    const dir = await mkdtemp(join(tmpdir(), 'chorus-edge-bundle-'))
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }))
    return bundleWorkerScript(join(ROOT, 'edge/src/worker.ts'), join(dir, 'worker.js'))
  })()
  return bundled
}

export interface TestEdge {
  url: string
  get(path: string, init?: RequestInit): Promise<Response>
  /** The JSON of GET /_chorus/stats. */
  stats(): Promise<EdgeStatsJson>
  /** The Cache API key the edge uses for `path`: CACHE_HOST and the path, whatever hostname asked. */
  cacheKey(path: string): string
  mf: Miniflare
  dispose(): Promise<void>
}

export interface EdgeStatsJson {
  requests: Record<string, number>
  hits: { memory: number; cache: number }
  misses: number
  stale: number
  bytes: Record<string, number>
  hitRatio: number
  byteHitRatio: number
  coalescedWaits: number
  integrityFailures: { chunk: number; manifest: number; cachedChunk: number }
  negativeHits: number
  readAhead: Record<string, number>
  errors: Record<string, number>
  origin: { requests: number; errors: number; timeouts: number; latencyMs: { count: number } }
  memory: { entries: number; bytes: number; policy: string } | null
}

/** The edge Worker in workerd (Miniflare), reachable over real HTTP. */
export async function startEdge(t: Test, vars: Record<string, string>, options: { cachePersist?: string } = {}): Promise<TestEdge> {
  const script = await bundleWorker()
  const mf = new Miniflare({
    modules: true,
    scriptPath: script,
    modulesRoot: dirname(script),
    compatibilityDate: COMPATIBILITY_DATE,
    bindings: vars,
    ...(options.cachePersist !== undefined && { cachePersist: options.cachePersist }),
  })
  let disposed = false
  t.teardown(() => (disposed ? undefined : mf.dispose()))
  const url = (await mf.ready).href.replace(/\/$/, '')
  return {
    url,
    mf,
    dispose: async () => {
      disposed = true
      await mf.dispose()
    },
    get: (path, init) => fetch(`${url}${path}`, init),
    cacheKey: (path) => `https://${vars.CACHE_HOST || DEFAULT_CACHE_HOST}${path}`,
    // The operator token, when the edge has one: stats are for operators.
    stats: async () => {
      const token = vars.OPERATOR_TOKEN || vars.PURGE_TOKEN
      const res = await fetch(`${url}/_chorus/stats`, token ? { headers: { authorization: `Bearer ${token}` } } : {})
      if (res.status !== 200) throw new Error(`GET /_chorus/stats: ${res.status} ${await res.text()}`)
      return (await res.json()) as EdgeStatsJson
    },
  }
}

export async function signedManifest(origin: string, trackId: string): Promise<SignedManifest> {
  return (await (await fetch(`${origin}/v1/tracks/${trackId}/manifest`)).json()) as SignedManifest
}

export function chunkPaths(manifest: Manifest, bitrate = 96): string[] {
  const q = manifest.qualities.find((x) => x.bitrate === bitrate)!
  return Array.from({ length: q.chunkCount }, (_, index) => chunkPath({ trackId: manifest.trackId, version: manifest.version, bitrate, index }))
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Polls until `check` holds: for background work (waitUntil) whose end a test cannot await. */
export async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(20)
  }
}

/** True when the edge's Cache API (caches.default inside workerd) holds `path`, keyed as the edge keys it. */
export async function inCacheApi(edge: TestEdge, path: string): Promise<boolean> {
  const caches = await edge.mf.getCaches()
  const res = await caches.default.match(edge.cacheKey(path))
  if (res) await res.arrayBuffer()
  return res !== undefined
}

/** The argv (after node) that runs `chorus edge`. */
export function edgeCommand(args: string[]): string[] {
  return [join(ROOT, 'bin/chorus.js'), 'edge', ...args]
}

export interface CliRun {
  code: number | null
  stdout: string
  stderr: string
}

export function runEdgeCli(args: string[], timeoutMs = 150_000): Promise<CliRun> {
  return runChorus(['edge', ...args], { cwd: ROOT, timeoutMs })
}
