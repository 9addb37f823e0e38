import { createServer, request as httpRequest } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { chunkPath } from '../../protocol/index.js'
import { startOrigin } from '../../origin/index.js'
import { publishBenchTrack } from '../src/catalog.js'
import { machineInfo } from '../src/machine.js'
import { fmt, mdTable, median, writeResults } from '../src/report.js'
import { type Running, bundleEdge, startMiniflare } from './servers.js'

/**
 * `npm run bench -- edge-shield`: what a shield tier saves the origin. N lower edges (each its own
 * workerd, its own Cache API, as separate Cloudflare locations are) take concurrent cold requests
 * for one chunk at once; the origin's requests for that chunk are counted, first with every lower
 * edge on the origin, then with all of them on one shield edge (UPSTREAM_EDGE). Same Worker, same
 * code; only the configuration differs.
 */

interface CountingProxy {
  url: string
  counts: Map<string, number>
  close(): Promise<void>
}

/** A plain HTTP proxy in front of the origin that counts requests per path. */
async function countingProxy(target: string): Promise<CountingProxy> {
  const base = new URL(target)
  const counts = new Map<string, number>()
  const sockets = new Set<Socket>()
  const server = createServer((req, res) => {
    const path = req.url ?? '/'
    counts.set(path, (counts.get(path) ?? 0) + 1)
    const up = httpRequest({ host: base.hostname, port: base.port, method: req.method, path, headers: { ...req.headers, host: base.host } }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers)
      answer.pipe(res)
    })
    up.on('error', () => res.destroy())
    req.pipe(up)
  })
  server.on('connection', (s) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    counts,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        for (const s of sockets) s.destroy()
      }),
  }
}

interface Trial {
  /** Origin requests for the chunk itself. */
  chunkRequests: number
  /** Origin requests of any kind during the trial (the first chunk also fetches its manifest). */
  allRequests: number
  latenciesMs: number[]
  failures: number
}

async function coldTrial(edges: Running[], path: string, perEdge: number, proxy: CountingProxy): Promise<Trial> {
  const total = () => [...proxy.counts.values()].reduce((a, b) => a + b, 0)
  const [chunkBefore, allBefore] = [proxy.counts.get(path) ?? 0, total()]
  let failures = 0
  const latenciesMs = await Promise.all(
    edges.flatMap((edge) =>
      Array.from({ length: perEdge }, async () => {
        const started = performance.now()
        const res = await fetch(`${edge.url}${path}`)
        await res.arrayBuffer()
        if (res.status !== 200) failures++
        return performance.now() - started
      }),
    ),
  )
  return { chunkRequests: (proxy.counts.get(path) ?? 0) - chunkBefore, allRequests: total() - allBefore, latenciesMs, failures }
}

const percentile = (values: number[], p: number) => {
  const s = [...values].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? Number.NaN
}

export async function run(argv: string[]): Promise<void> {
  const quick = argv.includes('--quick')
  const lowerCounts = quick ? [2, 4] : [2, 4, 8]
  const coldChunks = quick ? 5 : 20
  const perEdge = 8
  const say = (line: string) => process.stderr.write(`${line}\n`)
  const info = machineInfo()
  const started = performance.now()
  const dataDir = await mkdtemp(join(tmpdir(), 'chorus-bench-shield-'))
  const stops: Array<() => Promise<void>> = []
  try {
    const { manifest, publicKey } = await publishBenchTrack(dataDir, coldChunks)
    const paths = Array.from({ length: coldChunks }, (_, index) => chunkPath({ trackId: 'bench', version: manifest.version, bitrate: 320, index }))
    const origin = await startOrigin({ dataDir, env: {} })
    stops.push(() => origin.close())
    const proxy = await countingProxy(origin.url)
    stops.push(() => proxy.close())
    const script = await bundleEdge(dataDir)
    // READ_AHEAD=0: each chunk is cold when its trial starts, not warmed by the previous trial.
    const common = { ORIGIN_PUBLIC_KEY: publicKey, READ_AHEAD: '0' }

    const rows: Array<{ lowerEdges: number; shield: boolean; trials: Trial[] }> = []
    for (const n of lowerCounts) {
      for (const shield of [false, true]) {
        const running: Running[] = []
        try {
          let upstream: Record<string, string> = { ORIGIN_URL: proxy.url }
          if (shield) {
            const top = await startMiniflare(script, { ...common, ORIGIN_URL: proxy.url })
            running.push(top)
            upstream = { UPSTREAM_EDGE: top.url }
          }
          const lowers: Running[] = []
          for (let i = 0; i < n; i++) lowers.push(await startMiniflare(script, { ...common, ...upstream }))
          running.push(...lowers)
          proxy.counts.clear()
          const trials: Trial[] = []
          for (const path of paths) trials.push(await coldTrial(lowers, path, perEdge, proxy))
          rows.push({ lowerEdges: n, shield, trials })
          const mean = trials.reduce((a, t) => a + t.chunkRequests, 0) / trials.length
          say(`  ${n} lower edges, ${shield ? 'with' : 'without'} shield: ${fmt(mean)} origin requests per cold chunk`)
        } finally {
          for (const r of running) await r.stop()
        }
      }
    }

    const summary = rows.map((r) => {
      const chunk = r.trials.map((t) => t.chunkRequests)
      const all = r.trials.map((t) => t.allRequests)
      const lat = r.trials.flatMap((t) => t.latenciesMs)
      return {
        lowerEdges: r.lowerEdges,
        shield: r.shield,
        originChunkRequestsPerColdChunk: chunk.reduce((a, b) => a + b, 0) / chunk.length,
        originChunkRequestsMax: Math.max(...chunk),
        originRequestsPerColdChunkAll: all.reduce((a, b) => a + b, 0) / all.length,
        coldLatencyMs: { p50: median(lat), p95: percentile(lat, 95) },
        failures: r.trials.reduce((a, t) => a + t.failures, 0),
      }
    })
    const command = `npm run bench -- edge-shield${quick ? ' --quick' : ''}  (or npx tsx bench/edge/shield.ts)`
    const json = {
      benchmark: 'edge-shield',
      command,
      machine: info,
      settings: { lowerEdges: lowerCounts, coldChunks, concurrentRequestsPerLowerEdge: perEdge, chunkBytes: 32 * 1024, readAhead: 0 },
      results: summary,
      elapsedSeconds: Math.round((performance.now() - started) / 100) / 10,
    }
    const table = mdTable(
      ['lower edges', 'shield', 'origin requests per cold chunk (mean)', 'max', 'origin requests per cold chunk, manifests included', 'cold p50 ms', 'cold p95 ms', 'failed'],
      summary.map((s) => [
        s.lowerEdges,
        s.shield ? 'yes' : 'no',
        fmt(s.originChunkRequestsPerColdChunk),
        s.originChunkRequestsMax,
        fmt(s.originRequestsPerColdChunkAll),
        fmt(s.coldLatencyMs.p50, 1),
        fmt(s.coldLatencyMs.p95, 1),
        s.failures,
      ]),
    )
    const md = `# Edge shield tier

Command: \`${command}\` (${info.date}; ${info.cpu}, ${info.cores} cores, Node ${info.node}; ${json.elapsedSeconds} s).

N lower edges, each its own workerd with its own Cache API (as separate locations are), all cold.
For each of ${coldChunks} chunks, ${perEdge} concurrent requests go to every lower edge at once; the
origin's requests for that chunk are counted behind a proxy. "shield: yes" puts one more edge
between the lower edges and the origin (\`UPSTREAM_EDGE\` on the lower edges); the same Worker
plays both roles. READ_AHEAD=0, so every trial starts cold.

${table}

Without a shield each lower edge coalesces its own concurrent misses, so a cold chunk costs the
origin one request per lower edge. With one, the lower edges' misses meet at the shield and
coalesce again: one request however many lower edges. "Manifests included" adds the signed
manifest each tier fetches once per version to verify chunks (amortised over the ${coldChunks} chunks).
Latencies are loopback workerd on a shared machine: the shield's extra hop shows, absolutes do not
transfer to Cloudflare.
`
    const files = await writeResults('edge-shield', json, md)
    say(md)
    say(`wrote ${files.join(', ')}`)
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => {})
    await rm(dataDir, { recursive: true, force: true })
  }
}

// Runs on its own too: `npx tsx bench/edge/shield.ts [--quick]`.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  run(process.argv.slice(2)).catch((error: unknown) => {
    process.stderr.write(`bench edge-shield: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`)
    process.exitCode = 1
  })
}
