import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { chunkLength, chunkPath } from '../../protocol/index.js'
import { buildMaster } from '../../origin/src/masters.js'
import { publishBenchTrack } from '../src/catalog.js'
import { machineInfo } from '../src/machine.js'
import { ROOT, startReady, tsxArgs } from '../src/process.js'
import { fmt, mdTable, median, writeResults } from '../src/report.js'
import { type LoadResult, wrkLoad } from '../src/wrk.js'

const run = promisify(execFile)
const CHUNK = 32 * 1024

/** openssl's own figure for one algorithm at 16 KiB blocks (bytes/s), the ceiling of this core. */
async function opensslSpeed(alg: string, seconds: number): Promise<number> {
  const { stdout } = await run('openssl', ['speed', '-seconds', String(seconds), '-evp', alg], { maxBuffer: 1 << 20 })
  const line = stdout.split('\n').find((l) => l.trim().toLowerCase().startsWith(alg.toLowerCase()))
  const last = line?.trim().split(/\s+/).at(-1)
  if (!last?.endsWith('k')) throw new Error(`cannot read openssl speed output for ${alg}`)
  return Number(last.slice(0, -1)) * 1000
}

/** Chorus's ingest path: one cipher pass over the file, a SHA-256 per 32 KiB chunk (buildMaster). */
function encryptHashSpeed(totalBytes: number, rounds: number): number {
  const plain = { bitrate: 320, bytes: new Uint8Array(randomBytes(totalBytes)), sampleRate: 44100, channels: 2, frameOffsets: [], frameTimesMs: [] }
  const key = randomBytes(16)
  const speeds: number[] = []
  for (let r = 0; r < rounds; r++) {
    const started = performance.now()
    buildMaster(plain, key, randomBytes(8), CHUNK)
    speeds.push(totalBytes / ((performance.now() - started) / 1000))
  }
  return median(speeds)
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
  const seconds = quick ? 3 : 8
  const rounds = quick ? 1 : 3
  const info = machineInfo()
  process.stderr.write('crypto: encrypt+hash vs openssl speed...\n')
  const ours = encryptHashSpeed(64 * 1024 * 1024, quick ? 2 : 5)
  const sha = await opensslSpeed('sha256', quick ? 1 : 3)
  const aes = await opensslSpeed('aes-128-ctr', quick ? 1 : 3)

  process.stderr.write('serving: origin vs bare node:http, hot 32 KiB chunks, wrk 64 connections...\n')
  const dataDir = await mkdtemp(join(tmpdir(), 'chorus-bench-origin-'))
  const origin: LoadResult[] = []
  const bare: LoadResult[] = []
  try {
    const entries = await makeCatalog(dataDir, 1000)
    const pathsFile = join(dataDir, 'paths.json')
    await writeFile(pathsFile, JSON.stringify(entries))
    const paths = entries.map((e) => e.path)
    // Alternate the two servers so that drift in the machine's load hits both alike.
    for (let r = 0; r < rounds; r++) {
      for (const which of ['bare', 'origin'] as const) {
        const server =
          which === 'origin'
            ? await startReady(process.execPath, [join(ROOT, 'bin/chorus.js'), 'origin', '--json', '--quiet', '--port', '0', '--data', dataDir])
            : await startReady(process.execPath, tsxArgs(join(ROOT, 'bench/origin/bare-server.ts'), pathsFile))
        try {
          await wrkLoad(server.ready.url, paths, { seconds: 2 })
          const result = await wrkLoad(server.ready.url, paths, { seconds })
          ;(which === 'origin' ? origin : bare).push(result)
          process.stderr.write(`  round ${r + 1} ${which}: ${Math.round(result.rps)} req/s, p99 ${fmt(result.p99Ms)} ms\n`)
        } finally {
          await server.stop()
        }
      }
    }
  } finally {
    await rm(dataDir, { recursive: true, force: true })
  }
  const pick = (rs: LoadResult[]) => ({ rps: median(rs.map((r) => r.rps)), p50Ms: median(rs.map((r) => r.p50Ms)), p99Ms: median(rs.map((r) => r.p99Ms)), errors: rs.reduce((n, r) => n + r.errors, 0) })
  const o = pick(origin)
  const b = pick(bare)
  const result = {
    machine: info,
    crypto: {
      encryptHashGBps: ours / 1e9,
      opensslSha256GBps: sha / 1e9,
      opensslAes128CtrGBps: aes / 1e9,
      ratioToOpensslSha256: ours / sha,
      target: 0.5,
      met: ours / sha >= 0.5,
    },
    serving: { origin: o, bareNodeHttp: b, ratio: o.rps / b.rps, target: 0.8, met: o.rps / b.rps >= 0.8, seconds, rounds, connections: 64, paths: 1000 },
  }
  const md = `# Origin benchmark

Command: \`npm run bench -- origin\` (${info.date}; ${info.cpu}, ${info.cores} cores, Node ${info.node}, ${info.openssl})

## Encrypt + hash of 32 KiB chunks (one core)

${mdTable(
  ['what', 'GB/s', 'ratio'],
  [
    ['Chorus ingest (AES-128-CTR pass + SHA-256 per chunk)', fmt(ours / 1e9), '1.00'],
    ['`openssl speed -evp sha256` (16 KiB)', fmt(sha / 1e9), fmt(ours / sha)],
    ['`openssl speed -evp aes-128-ctr` (16 KiB)', fmt(aes / 1e9), fmt(ours / aes)],
  ],
)}

Target: at least 0.5x openssl's SHA-256 alone: **${fmt(ours / sha)}x**, ${result.crypto.met ? 'met' : 'missed'}.

## Hot 32 KiB chunks on loopback (wrk, 64 connections, 1000 paths, median of ${rounds} alternating ${seconds} s rounds)

${mdTable(
  ['server', 'req/s', 'p50 ms', 'p99 ms', 'ratio'],
  [
    ['bare node:http, same bytes from memory', Math.round(b.rps), fmt(b.p50Ms), fmt(b.p99Ms), '1.00'],
    ['Chorus origin (Hono on @hono/node-server)', Math.round(o.rps), fmt(o.p50Ms), fmt(o.p99Ms), fmt(o.rps / b.rps)],
  ],
)}

Target: at least 0.8x the bare server: **${fmt(o.rps / b.rps)}x**, ${result.serving.met ? 'met' : 'missed'}. Errors: ${o.errors + b.errors}.
`
  const files = await writeResults('origin', result, md)
  process.stdout.write(`${md}\nwrote ${files.join(', ')}\n`)
}

export { run_ as run }
