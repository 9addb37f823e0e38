import { type ChildProcess, fork } from 'node:child_process'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { onInterrupt } from '../playback/cleanup.js'
import { machineInfo } from '../src/machine.js'
import { RESULTS_DIR } from '../src/report.js'
import { simChart } from './chart.js'
import type { LevelReply } from './level-process.js'
import { SIM_HELP, type SimOptions, parseSimOptions } from './options.js'
import { renderSimReport } from './report.js'
import type { SimSummary } from './summary.js'
import type { WorldOptions } from './world.js'

/**
 * `npm run bench -- sim`: one simulated world per listener population, each in its own process
 * (two at a time: two cores), each bounded by a wall-clock budget; then the report and the chart.
 */
const LEVEL = fileURLToPath(new URL('./level-process.ts', import.meta.url))
const TSX = import.meta.resolve('tsx')

/**
 * Virtual seconds a level runs: the warm window is stretched by the ratio of the largest level
 * to this one, so that every level counts about as many plays (at 10,000 listeners, 240 s held
 * a dozen cold plays: no percentile).
 */
function levelDurationSec(o: Pick<SimOptions, 'levels' | 'durationSec' | 'warmupSec'>, population: number): number {
  const stretch = Math.max(1, Math.round(Math.max(...o.levels) / population))
  return o.warmupSec + (o.durationSec - o.warmupSec) * stretch
}

function worldOptions(o: SimOptions, population: number): WorldOptions {
  return {
    seed: o.seed,
    population,
    activity: o.activity,
    durationMs: levelDurationSec(o, population) * 1000,
    warmupMs: o.warmupSec * 1000,
    tracks: o.tracks,
    p2p: o.p2p,
    rttMs: o.rttMs,
    rttJitter: o.rttJitter,
    peerRttMs: o.peerRttMs,
    originRttMs: o.originRttMs,
    uploadBytesPerSec: (o.uploadKbps * 1000) / 8,
    downBytesPerSec: (o.downKbps * 1000) / 8,
    connectSuccess: o.connectSuccess,
    seeding: { tracks: o.seedTracks, holderOffers: o.holderOffers, fromCache: o.seedFromCache },
    connections: { maxOffersPerAnnounce: o.offersPerAnnounce, offerBurst: o.offerBurst, offersPerMinute: o.offersPerMinute },
    headSec: o.headSec,
    budgetMs: o.budgetSec * 1000,
  }
}

function runLevel(o: SimOptions, population: number, children: Set<ChildProcess>): Promise<SimSummary> {
  return new Promise((resolve, reject) => {
    const child = fork(LEVEL, [], { execArgv: ['--import', TSX, '--max-old-space-size=12288'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    children.add(child)
    // The budget bounds the simulation; this bounds everything else (start-up, a stuck child).
    const timer = setTimeout(() => child.kill('SIGKILL'), (o.budgetSec + 120) * 1000)
    let reply: LevelReply | undefined
    child.on('message', (m: LevelReply) => (reply = m))
    child.on('exit', (code, signal) => {
      clearTimeout(timer)
      children.delete(child)
      if (reply?.type === 'done') resolve(reply.summary)
      else reject(new Error(`level ${population}: ${reply?.type === 'error' ? reply.message : `exited (${code ?? signal})`}`))
    })
    child.send(worldOptions(o, population))
  })
}

export async function runSim(o: SimOptions, command: string): Promise<{ markdown: string; json: Record<string, unknown>; files: string[]; levels: SimSummary[] }> {
  const log = o.quiet ? () => {} : (line: string) => process.stderr.write(`sim: ${line}\n`)
  const started = performance.now()
  const children = new Set<ChildProcess>()
  const forget = onInterrupt(async () => {
    for (const c of children) c.kill('SIGKILL')
  })
  try {
    const results = new Map<number, SimSummary>()
    // Largest first, so the long one starts at once and the small ones fill the other core.
    const queue = [...o.levels].sort((a, b) => b - a)
    await Promise.all(
      [0, 1].map(async () => {
        for (let p = queue.shift(); p !== undefined; p = queue.shift()) {
          log(`${p.toLocaleString('en-US')} listeners (${Math.round(p * o.activity).toLocaleString('en-US')} online), ${levelDurationSec(o, p)} s of virtual time`)
          const s = await runLevel(o, p, children)
          log(`${p.toLocaleString('en-US')}: servers ${(s.network.serverShare * 100).toFixed(1)} % of network bytes, ${s.wallSec} s${s.truncated ? ` (budget reached at ${s.simulatedSec} s)` : ''}`)
          results.set(p, s)
        }
      }),
    )
    const levels = [...o.levels].sort((a, b) => a - b).map((p) => results.get(p)!)
    const chartName = `${o.name}.svg`
    const svg = simChart(`Servers\u2019 share and edge load as listeners grow (${(o.activity * 100).toFixed(0)} % online)`, [
      {
        title: 'share of bytes (warm)',
        yLabel: 'share',
        yFormat: (v) => `${Math.round(v * 100)}%`,
        yMax: 1,
        series: [
          { label: 'servers, of network bytes', color: '#ff7f0e', points: levels.map((s) => [s.population, s.network.serverShare]) },
          { label: 'played from peers', color: '#1f77b4', points: levels.map((s) => [s.population, s.played.peer]) },
          { label: 'played from the cache', color: '#2ca02c', points: levels.map((s) => [s.population, s.played.cache]) },
          { label: 'played from the edge', color: '#d62728', dashed: true, points: levels.map((s) => [s.population, s.played.edge]) },
        ],
        references: [
          { label: 'target 10 %', y: 0.1, color: '#555' },
          { label: 'Spotify 2010: 19.7 % of network bytes', y: 0.197, color: '#9467bd' },
        ],
      },
      {
        title: 'edge egress per online listener',
        yLabel: 'kbit/s per listener online',
        yFormat: (v) => `${Math.round(v)}`,
        series: [
          { label: 'Chorus edge', color: '#ff7f0e', points: levels.map((s) => [s.population, s.edgeLoad.kbpsPerListener]) },
          { label: 'same plays, P2P off', color: '#7f7f7f', dashed: true, points: levels.map((s) => [s.population, (s.edgeLoad.cdnGbps * 1e6) / s.online]) },
          { label: 'origin', color: '#7f0000', points: levels.map((s) => [s.population, (s.edgeLoad.originGbps * 1e6) / s.online]) },
        ],
      },
    ])
    const machine = machineInfo()
    const totalWallSec = (performance.now() - started) / 1000
    const markdown = renderSimReport({ command, options: o, machine, levels, totalWallSec, chart: chartName })
    const json = { benchmark: 'sim', command, machine, options: o, levels, totalWallSec }
    const dir = o.outDir ?? RESULTS_DIR
    await mkdir(dir, { recursive: true })
    const files = [join(dir, `${o.name}.json`), join(dir, `${o.name}.md`), join(dir, chartName)]
    await writeFile(files[0]!, `${JSON.stringify(json, null, 2)}\n`)
    await writeFile(files[1]!, markdown)
    await writeFile(files[2]!, svg)
    return { markdown, json, files, levels }
  } finally {
    for (const c of children) c.kill('SIGKILL')
    forget()
  }
}

export async function run(argv: string[]): Promise<void> {
  const parsed = parseSimOptions(argv)
  if (parsed === 'help') {
    process.stdout.write(SIM_HELP)
    return
  }
  const command = `npm run bench -- sim${argv.length ? ` ${argv.join(' ')}` : ''}`
  const result = await runSim(parsed, command)
  process.stdout.write(result.markdown)
  process.stderr.write(`sim: wrote ${result.files.join(', ')}\n`)
}
