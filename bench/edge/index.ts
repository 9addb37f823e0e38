import { randomBytes } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { machineInfo } from '../src/machine.js'
import { ROOT, startReady } from '../src/process.js'
import { fmt, mdTable, median, writeResults } from '../src/report.js'
import { type LoadResult, wrkLoad } from '../src/wrk.js'
import { makeBenchCatalog } from './catalog.js'
import { policyTables } from './policy-table.js'
import { type Running, TRIVIAL_WORKER, bundleEdge, startMiniflare, startNginx, startWranglerDev } from './servers.js'

const CHUNKS = 1000
const CONNECTIONS = 64

interface Server {
  key: string
  label: string
  start(): Promise<Running>
}

interface EdgeWindow {
  chunkRequests: number
  memoryHits: number
  misses: number
}

/** Fetches one path, retrying a failed connection twice: a loaded machine resets a few. */
async function get(url: string): Promise<number> {
  for (let attempt = 1; ; attempt++) {
    try {
      const res = await fetch(url)
      await res.arrayBuffer()
      return res.status
    } catch (err) {
      if (attempt === 3) throw new Error(`GET ${url}: ${(err as Error).message} (${String((err as Error).cause ?? '')})`)
      await new Promise((resolve) => setTimeout(resolve, 200))
    }
  }
}

async function warm(url: string, paths: string[]): Promise<void> {
  let next = 0
  const worker = async () => {
    while (next < paths.length) {
      const path = paths[next++]!
      const status = await get(`${url}${path}`)
      if (status !== 200) throw new Error(`warming ${url}${path}: ${status}`)
    }
  }
  await Promise.all(Array.from({ length: 16 }, worker))
}

/** The edge's stats are for operators: the benchmark starts the edge with this token, and sends it. */
const OPERATOR_TOKEN = randomBytes(18).toString('base64url')

async function edgeCounters(url: string): Promise<EdgeWindow> {
  const s = (await (await fetch(`${url}/_chorus/stats`, { headers: { authorization: `Bearer ${OPERATOR_TOKEN}` } })).json()) as {
    requests: { chunk: number }
    served: { chunk: { memory: number; origin: number } }
  }
  return { chunkRequests: s.requests.chunk, memoryHits: s.served.chunk.memory, misses: s.served.chunk.origin }
}

function pick(results: LoadResult[]): LoadResult {
  return {
    rps: median(results.map((r) => r.rps)),
    p50Ms: median(results.map((r) => r.p50Ms)),
    p99Ms: median(results.map((r) => r.p99Ms)),
    errors: results.reduce((n, r) => n + r.errors, 0),
  }
}

/** `npm run bench -- edge`: cached-chunk serving through the edge beside the systems around it. */
export async function run(argv: string[]): Promise<void> {
  const quick = argv.includes('--quick')
  const withWrangler = !argv.includes('--no-wrangler')
  const seconds = quick ? 3 : 8
  const rounds = quick ? 1 : 3
  const info = machineInfo()
  const started = performance.now()
  const dataDir = await mkdtemp(join(tmpdir(), 'chorus-bench-edge-'))
  const say = (line: string) => process.stderr.write(`${line}\n`)
  try {
    say(`edge: catalog of ${CHUNKS} chunks of 32 KiB...`)
    const catalog = await makeBenchCatalog(dataDir, CHUNKS)
    const origin = await startReady(process.execPath, [join(ROOT, 'bin/chorus.js'), 'origin', '--json', '--quiet', '--port', '0', '--data', dataDir])
    try {
      const edgeScript = await bundleEdge(dataDir)
      const trivialScript = join(dataDir, 'trivial-worker.js')
      await writeFile(trivialScript, TRIVIAL_WORKER)
      // Memory big enough for the whole set: this measures serving a cached chunk, not the policy.
      const edgeVars = { ORIGIN_URL: origin.ready.url, ORIGIN_PUBLIC_KEY: catalog.publicKey, MEMORY_CACHE_MB: '64', OPERATOR_TOKEN }
      const servers: Server[] = [
        { key: 'edgeMiniflare', label: 'Chorus edge, workerd (Miniflare API)', start: () => startMiniflare(edgeScript, edgeVars) },
        { key: 'trivialMiniflare', label: 'trivial Worker, Map, workerd (Miniflare API)', start: () => startMiniflare(trivialScript, { ORIGIN_URL: origin.ready.url }) },
        ...(withWrangler
          ? [
              { key: 'edgeWrangler', label: 'Chorus edge, `wrangler dev` (as `chorus edge`)', start: () => startWranglerDev(join(ROOT, 'edge/src/worker.ts'), edgeVars, '/healthz') },
              { key: 'trivialWrangler', label: 'trivial Worker, Map, `wrangler dev`', start: () => startWranglerDev(trivialScript, { ORIGIN_URL: origin.ready.url }, catalog.paths[0]!) },
            ]
          : []),
        { key: 'origin', label: 'Chorus origin alone (Node)', start: async () => ({ url: origin.ready.url, stop: async () => {} }) },
        { key: 'nginx', label: 'nginx 1 worker, same files', start: () => startNginx(catalog.staticRoot) },
      ]
      const results = new Map<string, LoadResult[]>(servers.map((s) => [s.key, []]))
      const windows: EdgeWindow[] = []
      // Rounds alternate the servers so that drift in the shared machine's load hits all alike.
      for (let round = 0; round < rounds; round++) {
        for (const server of servers) {
          const running = await server.start()
          try {
            await warm(running.url, catalog.paths)
            await wrkLoad(running.url, catalog.paths, { seconds: 2, connections: CONNECTIONS })
            const before = server.key.startsWith('edge') ? await edgeCounters(running.url) : undefined
            const result = await wrkLoad(running.url, catalog.paths, { seconds, connections: CONNECTIONS })
            if (before) {
              const after = await edgeCounters(running.url)
              // The stats request itself is not a chunk request, so the deltas are wrk's alone.
              windows.push({ chunkRequests: after.chunkRequests - before.chunkRequests, memoryHits: after.memoryHits - before.memoryHits, misses: after.misses - before.misses })
            }
            results.get(server.key)!.push(result)
            say(`  round ${round + 1} ${server.key}: ${Math.round(result.rps)} req/s, p50 ${fmt(result.p50Ms)} ms, p99 ${fmt(result.p99Ms)} ms, errors ${result.errors}`)
          } finally {
            await running.stop()
          }
        }
      }

      const figures = Object.fromEntries(servers.map((s) => [s.key, pick(results.get(s.key)!)])) as Record<string, LoadResult>
      // Each round runs every server back to back, so a round's pair shares the machine's load of
      // the moment: the median of per-round ratios is steadier than a ratio of medians.
      const ratio = (a: string, b: string) => {
        const [x, y] = [results.get(a), results.get(b)]
        if (!x?.length || !y?.length) return Number.NaN
        return median(x.map((r, i) => r.rps / y[i]!.rps))
      }
      const target = 0.8
      const edgeVsTrivial = ratio('edgeMiniflare', 'trivialMiniflare')
      const edgeVsTrivialWrangler = withWrangler ? ratio('edgeWrangler', 'trivialWrangler') : Number.NaN
      const hitShare =
        windows.reduce((n, w) => n + w.memoryHits, 0) /
        Math.max(
          1,
          windows.reduce((n, w) => n + w.chunkRequests, 0),
        )
      const policies = await policyTables()
      const command = `npm run bench -- edge${quick ? ' --quick' : ''}${withWrangler ? '' : ' --no-wrangler'}  (or npx tsx bench/edge/main.ts)`
      const json = {
        benchmark: 'edge',
        command,
        machine: info,
        settings: { chunks: CHUNKS, chunkBytes: 32 * 1024, connections: CONNECTIONS, seconds, rounds, memoryCacheMb: 64 },
        servers: Object.fromEntries(servers.map((s) => [s.key, { label: s.label, ...figures[s.key], rounds: results.get(s.key) }])),
        ratios: {
          edgeVsTrivialWorker: edgeVsTrivial,
          edgeVsTrivialWorkerWrangler: edgeVsTrivialWrangler,
          edgeVsOrigin: ratio('edgeMiniflare', 'origin'),
          edgeVsNginx: ratio('edgeMiniflare', 'nginx'),
          trivialVsNginx: ratio('trivialMiniflare', 'nginx'),
          originVsNginx: ratio('origin', 'nginx'),
        },
        target: { edgeVsTrivialWorker: target, met: edgeVsTrivial >= target },
        edgeMemoryHitShareDuringLoad: hitShare,
        cachePolicyBest: policies?.best ?? null,
        elapsedSeconds: Math.round((performance.now() - started) / 100) / 10,
      }
      const rows = servers.map((s) => {
        const f = figures[s.key]!
        const base = s.key.endsWith('Wrangler') ? 'trivialWrangler' : 'trivialMiniflare'
        return [s.label, Math.round(f.rps), fmt(f.p50Ms), fmt(f.p99Ms), fmt(ratio(s.key, base)), fmt(ratio(s.key, 'nginx')), f.errors]
      })
      const md = `# Edge benchmark

Command: \`${command}\` (${info.date}; ${info.cpu}, ${info.cores} cores, Node ${info.node}; ${json.elapsedSeconds} s).
Shared, noisy machine: load generator and servers share the ${info.cores} cores; read ratios, not absolutes.

## Cached 32 KiB chunks on loopback (wrk, ${CONNECTIONS} connections, ${CHUNKS} paths, median of ${rounds} alternating ${seconds} s rounds)

Every server is warmed with each path once, then 2 s of load, before its measured run. The edge holds
all ${CHUNKS} chunks in its memory tier (MEMORY_CACHE_MB=64): ${(hitShare * 100).toFixed(1)}% of its chunk answers during the
measured runs were HIT-MEMORY.

${mdTable(['server', 'req/s', 'p50 ms', 'p99 ms', 'x trivial Worker (same runner)', 'x nginx', 'errors'], rows)}

req/s, p50 and p99 are medians over the rounds; ratios are medians of the per-round ratios (the
servers of one round ran back to back, under the same load from the rest of the machine).

Target: the edge at least ${target}x the trivial Worker in the same runtime: **${fmt(edgeVsTrivial)}x** under the Miniflare API, ${edgeVsTrivial >= target ? 'met' : 'missed'}${withWrangler ? `; ${fmt(edgeVsTrivialWrangler)}x under \`wrangler dev\`` : ''}.
Local workerd is far slower than Workers in production (see ../../../shared/ANCHORS.md): these
figures say what the edge's code costs next to a Worker that does nothing, not what a Cloudflare
location serves.

## Memory-tier policies (cache-policy replay)

${policies ? policies.markdown : '_bench/results/cache-policy.json not found: run `npm run bench -- cache-policy` first._'}
`
      const files = await writeResults('edge', json, md)
      say(md)
      say(`wrote ${files.join(', ')}`)
    } finally {
      await origin.stop()
    }
  } finally {
    await rm(dataDir, { recursive: true, force: true })
  }
}
