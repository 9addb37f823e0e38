import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { DEMO_TRACKS, synthesizeTrack } from '../../origin/index.js'
import { findFfmpeg } from '../../support/ffmpeg.js'
import type { Pcm } from '../../origin/index.js'
import { type IngestOptions, type IngestResult, ingestPcm } from '../../origin/index.js'
import { loadOriginKeys } from '../../origin/index.js'
import { reapedChildrenCpu } from '../first-run/proc-cpu.js'
import { machineInfo } from '../src/machine.js'
import { fmt, mdTable, median, writeResults } from '../src/report.js'
import { INGEST_HELP, type IngestBenchOptions, parseIngestOptions } from './options.js'

/** One measured ingest: CPU of this process (every thread) and of the children it reaped (ffmpeg). */
export interface Measured {
  wallSec: number
  cpuSec: number
  bytes: number
  codec: string
}

interface Row {
  /** A bitrate, or 'all' (every quality at once, as an ingest runs them). */
  quality: number | 'all'
  newPath: Measured & { rounds: Measured[] }
  oldPath: (Measured & { rounds: Measured[] }) | null
}

export interface IngestBenchResult {
  bench: 'ingest'
  machine: Record<string, unknown>
  options: { track: string; durationSec: number; rounds: number; bitrates: number[] }
  ffmpeg: string | null
  synthesis: { cpuSec: number; audioPerCpuSec: number }
  rows: Array<Row & { newAudioPerCpuSec: number; oldAudioPerCpuSec: number | null; ratio: number | null }>
  load: { before: number[]; after: number[] }
}

function cpuNow(): number {
  const c = process.cpuUsage()
  return (c.user + c.system) / 1e6 + reapedChildrenCpu()
}

async function measure(work: () => Promise<IngestResult>): Promise<Measured> {
  const cpu0 = cpuNow()
  const t0 = performance.now()
  const result = await work()
  return { wallSec: (performance.now() - t0) / 1000, cpuSec: cpuNow() - cpu0, bytes: result.bytes, codec: result.codec }
}

function medianOf(rounds: Measured[]): Measured & { rounds: Measured[] } {
  return {
    wallSec: median(rounds.map((r) => r.wallSec)),
    cpuSec: median(rounds.map((r) => r.cpuSec)),
    bytes: median(rounds.map((r) => r.bytes)),
    codec: rounds[0]!.codec,
    rounds,
  }
}

/** Audio seconds per CPU second (a quality alone, or all qualities of a track for 'all'). */
export function throughput(audioSec: number, m: Measured | null): number | null {
  return m && m.cpuSec > 0 ? audioSec / m.cpuSec : null
}

export async function runIngestBench(o: IngestBenchOptions): Promise<IngestBenchResult> {
  const log = (line: string) => {
    if (!o.quiet) process.stderr.write(`${line}\n`)
  }
  const machine = machineInfo()
  const before = loadavg()
  const spec = DEMO_TRACKS.find((t) => t.id === o.track)!
  synthesizeTrack({ seed: spec.seed, durationSec: 2 }) // compiled and warm, as in a catalog of twelve
  const c0 = process.cpuUsage()
  const pcm: Pcm = synthesizeTrack({ seed: spec.seed, durationSec: o.durationSec })
  const c = process.cpuUsage(c0)
  const synthCpu = (c.user + c.system) / 1e6
  log(`synthesized ${o.durationSec} s of ${spec.id} in ${fmt(synthCpu, 2)} CPU-s`)
  const ffmpeg = (await findFfmpeg()) ?? null
  if (!ffmpeg) log('no ffmpeg: ingestPcm falls back to MP3, so the "new" column is the pure-JS encoder too')

  const dataDir = await mkdtemp(join(tmpdir(), 'chorus-ingest-bench-'))
  try {
    const keys = await loadOriginKeys(dataDir)
    const meta = { trackId: 'bench-ingest', title: 'bench', artist: 'bench', album: '' }
    const ingest = (extra: Partial<IngestOptions>) => () => ingestPcm(pcm, meta, { dataDir, keys, ...extra })
    // Each quality alone with one encoder at a time, then every quality at once (the default
    // workers), as `chorus ingest` and the demo catalog run them.
    const plans: Array<{ quality: number | 'all'; options: Partial<IngestOptions> }> = [
      ...o.bitrates.map((b) => ({ quality: b, options: { bitrates: [b], workers: 1 } })),
      { quality: 'all' as const, options: { bitrates: o.bitrates } },
    ]
    const rows: Row[] = []
    for (const plan of plans) {
      const newRounds: Measured[] = []
      const oldRounds: Measured[] = []
      for (let r = 0; r < o.rounds; r++) {
        newRounds.push(await measure(ingest(plan.options)))
        if (o.mp3) oldRounds.push(await measure(ingest({ ...plan.options, codec: 'mp3' })))
        const n = newRounds.at(-1)!
        const old = oldRounds.at(-1)
        log(`  ${plan.quality === 'all' ? 'all qualities' : `${plan.quality} kbit/s`}, round ${r + 1}: ${n.codec} ${fmt(n.cpuSec, 2)} CPU-s${old ? `, ${old.codec} ${fmt(old.cpuSec, 2)} CPU-s` : ''}`)
      }
      rows.push({ quality: plan.quality, newPath: medianOf(newRounds), oldPath: o.mp3 ? medianOf(oldRounds) : null })
    }
    const audio = o.durationSec
    return {
      bench: 'ingest',
      machine,
      options: { track: o.track, durationSec: o.durationSec, rounds: o.rounds, bitrates: o.bitrates },
      ffmpeg,
      synthesis: { cpuSec: synthCpu, audioPerCpuSec: audio / synthCpu },
      rows: rows.map((row) => {
        const n = throughput(audio, row.newPath)!
        const old = throughput(audio, row.oldPath)
        return { ...row, newAudioPerCpuSec: n, oldAudioPerCpuSec: old, ratio: old ? n / old : null }
      }),
      load: { before, after: loadavg() },
    }
  } finally {
    await rm(dataDir, { recursive: true, force: true })
  }
}

const kbps = (m: Measured, audioSec: number) => fmt((m.bytes * 8) / audioSec / 1000, 0)

export function tableRows(r: IngestBenchResult): string[][] {
  const audio = r.options.durationSec
  return r.rows.map((row) => [
    row.quality === 'all' ? `all (${r.options.bitrates.join('+')}) at once` : `${row.quality} kbit/s`,
    `${fmt(row.newAudioPerCpuSec, 1)} (${fmt(row.newPath.cpuSec, 2)} CPU-s, ${fmt(audio / row.newPath.wallSec, 0)}x real time, ${kbps(row.newPath, audio)} kbit/s)`,
    row.oldPath ? `${fmt(row.oldAudioPerCpuSec!, 1)} (${fmt(row.oldPath.cpuSec, 2)} CPU-s, ${fmt(audio / row.oldPath.wallSec, 0)}x real time, ${kbps(row.oldPath, audio)} kbit/s)` : 'not run',
    row.ratio === null ? '' : `${fmt(row.ratio, 1)}x`,
  ])
}

export function renderIngestMarkdown(r: IngestBenchResult): string {
  const newCodec = r.rows[0]?.newPath.codec ?? '?'
  return `# ingest: audio seconds per CPU second

Run ${r.machine.date} on ${r.machine.cpu} (${r.machine.cores} cores), Node ${r.machine.node}; load average ${r.load.before.map((v) => fmt(v, 2)).join(' / ')} before, ${r.load.after.map((v) => fmt(v, 2)).join(' / ')} after (1 / 5 / 15 min; the machine is shared).
Input: ${r.options.durationSec} s of the demo synthesizer (${r.options.track}'s seed), 44.1 kHz stereo; the same PCM for every run; ${r.options.rounds} round(s), medians.
New: \`ingestPcm()\` as it is (${newCodec}${r.ffmpeg ? `, ffmpeg ${r.ffmpeg}` : ''}). Old: \`ingestPcm()\` with \`codec: 'mp3'\` (\`encodeMp3\`, lamejs in worker threads).
Both include the common rest of ingest (chunking, AES-CTR, SHA-256, signing, an fsynced publish).
CPU: this process (all threads) plus the children it reaped (ffmpeg), from /proc.

${mdTable(['quality', `new (${newCodec}): audio s per CPU s`, 'old (mp3, lamejs): audio s per CPU s', 'new / old'], tableRows(r))}

Each quality row encodes that quality alone, one encoder at a time; the last row encodes every
quality at once with the default number of encoders, as an ingest does, and its figure is
seconds of the track (all qualities) per CPU second. Synthesis of the input (the demo catalog
only): ${fmt(r.synthesis.audioPerCpuSec, 0)} audio s per CPU s (${fmt(r.synthesis.cpuSec, 2)} CPU-s).
`
}

export async function run(argv: string[]): Promise<void> {
  const o = parseIngestOptions(argv)
  if (o === 'help') {
    process.stdout.write(INGEST_HELP)
    return
  }
  const result = await runIngestBench(o)
  const header = ['quality', 'new: audio s / CPU s', 'old (mp3): audio s / CPU s', 'new/old']
  const rows = [header, ...tableRows(result)]
  const w = header.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)))
  process.stdout.write(`${rows.map((row) => row.map((c, i) => c.padEnd(w[i]!)).join('  ')).join('\n')}\nsynthesis: ${fmt(result.synthesis.audioPerCpuSec, 0)} audio s per CPU s\n`)
  const markdown = renderIngestMarkdown(result)
  let files: string[]
  if (o.outDir) {
    await mkdir(o.outDir, { recursive: true })
    files = [join(o.outDir, `${o.name}.json`), join(o.outDir, `${o.name}.md`)]
    await writeFile(files[0]!, `${JSON.stringify(result, null, 2)}\n`)
    await writeFile(files[1]!, markdown)
  } else files = await writeResults(o.name, result, markdown)
  process.stderr.write(`wrote ${files.join(', ')}\n`)
}
