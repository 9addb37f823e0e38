import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { availableParallelism, tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { chunkLength, chunkPath } from '../../protocol/index.js'
import { type PlainQuality, buildMaster } from '../../origin/index.js'
import { publishBenchTrack } from '../src/catalog.js'
import { machineInfo } from '../src/machine.js'
import { ROOT, pin, startReady, tsxArgs } from '../src/process.js'
import { fmt, mdTable, median, writeResults } from '../src/report.js'
import { type LoadResult, wrkLoad } from '../src/wrk.js'

const run = promisify(execFile)
const CHUNK = 32 * 1024

/** openssl's own figure for one algorithm at 16 KiB blocks (bytes/s): the ceiling of one core. */
async function opensslSpeed(alg: string, seconds: number): Promise<number> {
  const { stdout } = await run('openssl', ['speed', '-seconds', String(seconds), '-bytes', '16384', '-evp', alg], { maxBuffer: 1 << 20 })
  const line = stdout.split('\n').find((l) => l.trim().toLowerCase().startsWith(alg.toLowerCase()))
  const last = line?.trim().split(/\s+/).at(-1)
  if (!last?.endsWith('k')) throw new Error(`cannot read openssl speed output for ${alg}`)
  return Number(last.slice(0, -1)) * 1000
}

/**
 * Chorus's ingest path (buildMaster: AES-128-CTR in place, a SHA-256 per 32 KiB chunk) for about
 * `seconds` on one buffer larger than any cache (it is encrypted again and again, in place).
 */
function encryptHashSpeed(plain: PlainQuality, seconds: number): number {
  const key = randomBytes(16)
  let bytes = 0
  const started = performance.now()
  while (performance.now() - started < seconds * 1000) {
    buildMaster(plain, key, randomBytes(8), CHUNK)
    bytes += plain.bytes.length
  }
  return bytes / ((performance.now() - started) / 1000)
}

/** A catalog of `chunks` hot chunks, and where each lies in its master file (for the bare server). */
async function makeCatalog(dataDir: string, chunks: number) {
  const { manifest, quality } = await publishBenchTrack(dataDir, chunks)
  const file = join(dataDir, 'tracks', 'bench', manifest.version, '320.enc')
  return Array.from({ length: chunks }, (_, index) => ({
    path: chunkPath({ trackId: 'bench', version: manifest.version, bitrate: 320, index }),
    file,
    offset: index * CHUNK,
    length: chunkLength(quality.byteLength, CHUNK, index),
    etag: `"${quality.hashes[index]}"`,
  }))
}

export async function run_(argv: string[]): Promise<void> {
  const quick = argv.includes('--quick')
  const info = machineInfo()

  // Crypto: each round runs openssl and Chorus back to back, so that drift in the machine's load
  // hits both alike; the figure is the median of the rounds' ratios.
  const cryptoRounds = quick ? 3 : 7
  process.stderr.write(`crypto: encrypt+hash vs openssl speed -evp sha256, ${cryptoRounds} alternating 1 s rounds...\n`)
  const plain: PlainQuality = { codec: 'mp3', bitrate: 320, bytes: new Uint8Array(randomBytes(64 * 1024 * 1024)), sampleRate: 44100, channels: 2, frameOffsets: [], frameTimesMs: [] }
  encryptHashSpeed(plain, 0.3)
  const cryptoRuns: Array<{ ours: number; sha: number }> = []
  for (let r = 0; r < cryptoRounds; r++) {
    const sha = await opensslSpeed('sha256', 1)
    const ours = encryptHashSpeed(plain, 1)
    cryptoRuns.push({ ours, sha })
    process.stderr.write(`  round ${r + 1}: Chorus ${fmt(ours / 1e9)} GB/s, openssl sha256 ${fmt(sha / 1e9)} GB/s, ratio ${fmt(ours / sha)}\n`)
  }
  const aes = await opensslSpeed('aes-128-ctr', 1)
  const ours = median(cryptoRuns.map((c) => c.ours))
  const sha = median(cryptoRuns.map((c) => c.sha))
  const cryptoRatio = median(cryptoRuns.map((c) => c.ours / c.sha))

  // Serving: both servers run at once on CPU0 and wrk, on CPU1, loads one then the other in short
  // alternating runs; the figure is the median of the pairs' ratios.
  const pairs = quick ? 3 : 10
  const seconds = quick ? 2 : 3
  process.stderr.write(`serving: origin vs bare node:http, hot 32 KiB chunks, wrk 64 connections, ${pairs} alternating pairs of ${seconds} s...\n`)
  const dataDir = await mkdtemp(join(tmpdir(), 'chorus-bench-origin-'))
  const origin: LoadResult[] = []
  const bare: LoadResult[] = []
  let pinned = false
  try {
    const entries = await makeCatalog(dataDir, 1000)
    const pathsFile = join(dataDir, 'paths.json')
    await writeFile(pathsFile, JSON.stringify(entries))
    const paths = entries.map((e) => e.path)
    const servers = {
      bare: await startReady(process.execPath, tsxArgs(join(ROOT, 'bench/origin/bare-server.ts'), pathsFile)),
      origin: await startReady(process.execPath, [join(ROOT, 'bin/chorus.js'), 'origin', '--json', '--quiet', '--port', '0', '--data', dataDir]),
    }
    try {
      pinned = availableParallelism() >= 2 && pin(servers.bare.child, 0) && pin(servers.origin.child, 0)
      const cpu = pinned ? { cpu: 1 } : {}
      for (const s of Object.values(servers)) await wrkLoad(s.ready.url, paths, { seconds: 2, ...cpu })
      for (let r = 0; r < pairs; r++) {
        const b = await wrkLoad(servers.bare.ready.url, paths, { seconds, ...cpu })
        const o = await wrkLoad(servers.origin.ready.url, paths, { seconds, ...cpu })
        bare.push(b)
        origin.push(o)
        process.stderr.write(`  pair ${r + 1}: bare ${Math.round(b.rps)} req/s (p99 ${fmt(b.p99Ms)} ms), origin ${Math.round(o.rps)} req/s (p99 ${fmt(o.p99Ms)} ms), ratio ${fmt(o.rps / b.rps)}\n`)
      }
    } finally {
      await Promise.all(Object.values(servers).map((s) => s.stop()))
    }
  } finally {
    await rm(dataDir, { recursive: true, force: true })
  }
  const pick = (rs: LoadResult[]) => ({ rps: median(rs.map((r) => r.rps)), p50Ms: median(rs.map((r) => r.p50Ms)), p99Ms: median(rs.map((r) => r.p99Ms)), errors: rs.reduce((n, r) => n + r.errors, 0) })
  const o = pick(origin)
  const b = pick(bare)
  const servingRatio = median(origin.map((r, i) => r.rps / bare[i]!.rps))
  const result = {
    machine: info,
    crypto: {
      encryptHashGBps: ours / 1e9,
      opensslSha256GBps: sha / 1e9,
      opensslAes128CtrGBps: aes / 1e9,
      ratioToOpensslSha256: cryptoRatio,
      rounds: cryptoRuns,
      target: 0.5,
      met: cryptoRatio >= 0.5,
    },
    serving: {
      origin: o,
      bareNodeHttp: b,
      ratio: servingRatio,
      pairs: origin.map((r, i) => ({ origin: r, bare: bare[i] })),
      target: 0.8,
      met: servingRatio >= 0.8,
      seconds,
      connections: 64,
      paths: 1000,
      pinned,
    },
  }
  const md = `# Origin benchmark

Command: \`npm run bench -- origin\` (${info.date}; ${info.cpu}, ${info.cores} cores, Node ${info.node}, ${info.openssl})

## Encrypt + hash of 32 KiB chunks (one core; median of ${cryptoRounds} alternating 1 s rounds)

${mdTable(
  ['what', 'GB/s', 'ratio'],
  [
    ['Chorus ingest (buildMaster: AES-128-CTR in place, SHA-256 per chunk, 64 MiB buffer)', fmt(ours / 1e9), '1.00'],
    ['`openssl speed -evp sha256` (16 KiB)', fmt(sha / 1e9), fmt(cryptoRatio)],
    ['`openssl speed -evp aes-128-ctr` (16 KiB)', fmt(aes / 1e9), fmt(ours / aes)],
  ],
)}

Target: at least 0.5x openssl's SHA-256 alone (median of the rounds' ratios): **${fmt(cryptoRatio)}x**, ${result.crypto.met ? 'met' : 'missed'}.

## Hot 32 KiB chunks on loopback (wrk, 64 connections, 1000 paths; ${pairs} alternating pairs of ${seconds} s, ${pinned ? 'servers on CPU0, wrk on CPU1' : 'not pinned: servers and wrk share the cores'})

${mdTable(
  ['server', 'req/s (median)', 'p50 ms', 'p99 ms', 'ratio'],
  [
    ['bare node:http, same bytes from memory', Math.round(b.rps), fmt(b.p50Ms), fmt(b.p99Ms), '1.00'],
    ['Chorus origin (chunk fast path on node:http, Hono for the rest)', Math.round(o.rps), fmt(o.p50Ms), fmt(o.p99Ms), fmt(servingRatio)],
  ],
)}

Target: at least 0.8x the bare server (median of the pairs' ratios): **${fmt(servingRatio)}x**, ${result.serving.met ? 'met' : 'missed'}. Errors: ${o.errors + b.errors}.
`
  const files = await writeResults('origin', result, md)
  process.stdout.write(`${md}\nwrote ${files.join(', ')}\n`)
}

export { run_ as run }
