import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { machineInfo } from '../src/machine.js'
import { RESULTS_DIR } from '../src/report.js'
import { BITRATE, buildCatalog } from './catalog.js'
import { cdfChart, stackedChart } from './charts.js'
import { onInterrupt } from './cleanup.js'
import { HELP, type PlaybackOptions, parsePlaybackOptions } from './options.js'
import { type PhaseResult, runPhase } from './phase.js'
import { type ReportInput, checkTargets, renderReport } from './report.js'
import { createScenario } from './scenario.js'
import { bundleEdgeWorker } from './stack.js'
import { type PhaseSummary, summarize } from './summary.js'

/**
 * `npm run bench -- playback`: builds the catalog, then runs the same seeded listening scripts
 * twice against fresh servers, peer-assisted and with P2P off, and writes the figures, the
 * report and the charts. Bounded: each phase stops at its deadline (plus a grace period), and
 * every server, proxy and temporary directory goes away even on an error or a signal.
 */
export interface PlaybackRun {
  json: Record<string, unknown>
  markdown: string
  files: string[]
  p2p: PhaseSummary
  cdn: PhaseSummary | undefined
}

const COLORS = { cold: '#1f77b4', cached: '#2ca02c', prefetched: '#d62728' }

function bytesPanel(title: string, phase: PhaseResult, bucketSec: number) {
  const t: number[] = []
  const layers = { cache: [] as number[], peer: [] as number[], edge: [] as number[] }
  const origin: number[] = []
  const s = phase.samples
  for (let from = 0; ; from += bucketSec * 1000) {
    const a = s.find((x) => x.tMs >= from)
    const b = [...s].reverse().find((x) => x.tMs <= from + bucketSec * 1000)
    if (!a || !b || b.tMs <= a.tMs) break
    const secs = (b.tMs - a.tMs) / 1000
    t.push(Math.round(from / 1000))
    layers.cache.push((b.cache - a.cache) / secs)
    layers.peer.push((b.peer - a.peer) / secs)
    layers.edge.push((b.edge - a.edge) / secs)
    origin.push((b.origin - a.origin) / secs)
  }
  return {
    title,
    t,
    layers: [
      { label: 'edge (servers)', color: '#ff7f0e', values: layers.edge },
      { label: 'peers', color: '#1f77b4', values: layers.peer },
      { label: 'local cache (played)', color: '#2ca02c', values: layers.cache },
    ],
    lines: [{ label: 'origin (to the edge)', color: '#7f0000', values: origin }],
    yLabel: 'bytes per second',
  }
}

export async function runPlayback(o: PlaybackOptions, command: string): Promise<PlaybackRun> {
  const log = o.quiet ? () => {} : (line: string) => process.stderr.write(`playback: ${line}\n`)
  const started = performance.now()
  const work = await mkdtemp(join(tmpdir(), 'chorus-bench-playback-'))
  const forget = onInterrupt(() => rm(work, { recursive: true, force: true }))
  try {
    log(`catalog: ${o.tracks} tracks`)
    const catalog = await buildCatalog({ dataDir: join(work, 'data'), tracks: o.tracks, sourceSeconds: o.sourceSec, seed: o.seed, log })
    const workerScript = await bundleEdgeWorker(work)
    const scenario = createScenario({
      seed: o.seed,
      listeners: o.listeners,
      trackDurationsMs: catalog.tracks.map((t) => t.durationMs),
      durationMs: o.durationSec * 1000,
      speed: o.speed,
      arrivalSpreadMs: (o.durationSec * 1000) / 4,
      network: { rttMs: o.rttMs, rttJitter: o.rttJitter, peerRttMs: o.peerRttMs, uploadBytesPerSec: ((o.uploadKbps * 1000) / 8) * o.speed, downBytesPerSec: (o.downKbps * 1000) / 8, loss: o.loss },
    })
    const phase = (name: 'p2p' | 'cdn') =>
      runPhase({
        name,
        p2p: name === 'p2p',
        seed: o.seed,
        scenario,
        catalog,
        workerScript,
        durationMs: o.durationSec * 1000,
        speed: o.speed,
        originRttMs: o.originRttMs,
        listenersPerProcess: o.perProcess,
        scheduler: { minPeerDeadlineMs: 1500 / o.speed },
        edgeStart: o.edgeStart,
        log,
      })
    const p2pPhase = await phase('p2p')
    const cdnPhase = o.cdn ? await phase('cdn') : undefined
    // Warm: the second half of the phase, once every listener has arrived and swarms have formed.
    const warmFromMs = (o.durationSec * 1000) / 2
    const p2p = summarize(p2pPhase, catalog.tracks.length, { warmFromMs, speed: o.speed })
    const cdn = cdnPhase && summarize(cdnPhase, catalog.tracks.length, { warmFromMs, speed: o.speed })

    const durations = catalog.tracks.map((t) => t.durationMs / 1000)
    const rttMs = o.rttMs
    const firstChunkMs = ((catalog.firstChunkBytes * 8) / (o.downKbps * 1000)) * 1000
    const name = 'playback'
    const charts = { ttfa: `${name}-ttfa.svg`, bytes: `${name}-bytes.svg` }
    const input: ReportInput = {
      command,
      options: o,
      machine: machineInfo(),
      catalog: {
        tracks: catalog.tracks.length,
        minSec: Math.round(Math.min(...durations)),
        maxSec: Math.round(Math.max(...durations)),
        meanSec: Math.round(durations.reduce((a, b) => a + b, 0) / durations.length),
        bitrate: BITRATE,
        chunkSize: catalog.chunkSize,
      },
      p2p,
      cdn,
      limits: { coldMs: rttMs + firstChunkMs, rttMs, firstChunkMs },
      totalWallMs: performance.now() - started,
      charts,
    }
    const checks = checkTargets(input)
    const markdown = renderReport(input, checks)
    const ttfaOf = (phase: PhaseResult | undefined, kind: string) => (phase?.plays ?? []).filter((p) => p.kind === kind).map((p) => p.ttfaMs!)
    const ttfaSvg = cdfChart(
      `Time to first audio: ${o.listeners} listeners, ${rttMs} ms to the edge`,
      (['cold', 'cached', 'prefetched'] as const).flatMap((k) => [
        { label: `${k}, P2P`, color: COLORS[k], values: ttfaOf(p2pPhase, k) },
        ...(cdnPhase ? [{ label: `${k}, P2P off`, color: COLORS[k], dashed: true, values: ttfaOf(cdnPhase, k) }] : []),
      ]),
      [
        { label: 'limit', x: input.limits.coldMs, color: '#555' },
        { label: '2 RTT', x: 2 * rttMs, color: '#1f77b4' },
        { label: '5 RTT', x: 5 * rttMs, color: '#1f77b4' },
        { label: 'Spotify p50', x: 265, color: '#9467bd' },
      ],
    )
    const bucket = Math.max(2, Math.round(o.durationSec / 30))
    const bytesSvg = stackedChart(`Bytes by source over time (${bucket} s buckets)`, [
      bytesPanel('peer-assisted', p2pPhase, bucket),
      ...(cdnPhase ? [bytesPanel('P2P off (plain CDN)', cdnPhase, bucket)] : []),
    ])
    const json = {
      benchmark: 'playback',
      command,
      machine: input.machine,
      options: o,
      catalog: input.catalog,
      limits: input.limits,
      spotify2010: { ttfaMedianMs: 265, stutterShare: 0.01, playedShares: { cache: 0.554, peer: 0.358, servers: 0.088 }, topTrackShare: { tracks: 0.12, plays: 0.88 }, predictableShare: 0.61 },
      targets: checks,
      p2p,
      cdn: cdn ?? null,
      plays: { p2p: p2pPhase.plays, cdn: cdnPhase?.plays ?? [] },
      samples: { p2p: p2pPhase.samples, cdn: cdnPhase?.samples ?? [] },
      totalWallMs: input.totalWallMs,
    }
    const dir = o.outDir ?? RESULTS_DIR
    await mkdir(dir, { recursive: true })
    const files = [join(dir, `${name}.json`), join(dir, `${name}.md`), join(dir, charts.ttfa), join(dir, charts.bytes)]
    await writeFile(files[0]!, `${JSON.stringify(json, null, 2)}\n`)
    await writeFile(files[1]!, markdown)
    await writeFile(files[2]!, ttfaSvg)
    await writeFile(files[3]!, bytesSvg)
    return { json, markdown, files, p2p, cdn }
  } finally {
    await rm(work, { recursive: true, force: true })
    forget()
  }
}

export async function run(argv: string[]): Promise<void> {
  const parsed = parsePlaybackOptions(argv)
  if (parsed === 'help') {
    process.stdout.write(HELP)
    return
  }
  const command = `npm run bench -- playback${argv.length ? ` ${argv.join(' ')}` : ''}`
  const result = await runPlayback(parsed, command)
  process.stdout.write(result.markdown)
  process.stderr.write(`playback: wrote ${result.files.join(', ')}\n`)
}
