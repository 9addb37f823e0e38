import { fmt, mdTable } from '../src/report.js'
import type { ProcStat } from './proc-cpu.js'
import { TARGETS } from './options.js'

/** CPU seconds of the stack by part, at one moment. */
export interface CpuSnapshot {
  atMs: number
  total: number
  parts: Record<string, number>
}

export type Part = 'start' | 'encoders' | 'origin' | 'tracker' | 'edge' | 'other'

/** Which part a direct child of `chorus start` is, from its command line. */
export function partOfCommand(args: string[], comm: string): Part {
  if (comm === 'ffmpeg' || args.some((a) => /(^|\/)ffmpeg$/.test(a))) return 'encoders'
  const at = args.findIndex((a) => a.endsWith('chorus.js'))
  const sub = at >= 0 ? args[at + 1] : undefined
  return sub === 'origin' || sub === 'tracker' || sub === 'edge' ? sub : 'other'
}

/**
 * The tree's CPU by part: `chorus start` itself (supervision, the synthesis thread, chunking,
 * encryption, publishing), the encoders it ran (live ffmpeg processes, and the children it has
 * reaped, which are its finished encoders), and each server with everything under it.
 */
export function groupCpu(tree: ProcStat[], root: number, partOf: (child: ProcStat) => Part, atMs: number): CpuSnapshot {
  const byPid = new Map(tree.map((s) => [s.pid, s]))
  const parts: Record<string, number> = { start: 0, encoders: 0, origin: 0, tracker: 0, edge: 0, other: 0 }
  for (const s of tree) {
    if (s.pid === root) {
      parts.start! += s.self
      parts.encoders! += s.reaped
      continue
    }
    // The direct child of the root this process descends from names its part.
    let top: ProcStat = s
    while (top.ppid !== root) {
      const up = byPid.get(top.ppid)
      if (!up) break
      top = up
    }
    parts[partOf(top)]! += s.self + s.reaped
  }
  const total = Object.values(parts).reduce((a, b) => a + b, 0)
  return { atMs, total, parts }
}

export interface TrackSeen {
  trackId: string
  durationMs: number
  /** When `chorus start` said it was published (the bench's clock, from the spawn). */
  publishedMs?: number
  /** When the edge first listed it. */
  listedMs?: number
}

export interface FirstRunResult {
  bench: 'first-run'
  machine: Record<string, unknown>
  command: string
  options: { count: number; durationSec: number | null }
  /** Milliseconds from the spawn of `chorus start`. */
  timings: {
    readyMs: number | null
    /** The first `{"catalog":"track"}` line. */
    firstPublishedMs: number | null
    /** The edge's GET /v1/tracks first lists a track. */
    firstListedMs: number | null
    /** First audio of that track through the Node SDK (edge only, no cache). */
    firstAudioMs: number | null
    /** The SDK's own time to first audio, from play() (the rest is the wait for the list). */
    sdkTimeToFirstAudioMs: number | null
    /** `{"catalog":"complete"}`. */
    catalogCompleteMs: number | null
    /** The edge lists every track. */
    allListedMs: number | null
    /** SIGINT to the exit of `chorus start`. */
    stopMs: number | null
  }
  /** What `chorus start` itself reported: its ready line's time, from its own start. */
  startReported: { readyMs: number | null; completeMs: number | null }
  firstTrack: { trackId: string; durationMs: number; codec: string | null } | null
  tracks: TrackSeen[]
  /** CPU seconds of the whole process tree of `chorus start`, from /proc, at each milestone. */
  cpu: {
    atReady: CpuSnapshot | null
    atFirstAudio: CpuSnapshot | null
    atComplete: CpuSnapshot | null
    /** The last sample before the stop: the run's total. */
    atStop: CpuSnapshot | null
    /**
     * The kernel's count (RUSAGE_CHILDREN) for `chorus start` and the descendants reaped through it,
     * read after it exited: a cross-check, short of the total by processes nobody waited for
     * (the edge's wrangler runs detached and is killed by process group).
     */
    reapedByKernel: number | null
    /** The bench process itself (the SDK listener, polling, sampling). */
    benchProcess: number
  }
  /** Load averages (1, 5, 15 min): before the spawn (the rest of the machine), at ready, at complete, and the highest 1-min figure seen. */
  load: { before: number[]; atReady: number[] | null; atComplete: number[] | null; max1: number }
  exitCode: number | null
  /** Processes of the tree still alive after `chorus start` exited (they were killed). */
  leftovers: string[]
  errors: string[]
  targets: { readyMs: number; firstAudioMs: number; catalogMs: number; readyMet: boolean; firstAudioMet: boolean; catalogMet: boolean }
}

export function judgeTargets(t: FirstRunResult['timings']): FirstRunResult['targets'] {
  const within = (v: number | null, limit: number) => v !== null && v <= limit
  return {
    ...TARGETS,
    readyMet: within(t.readyMs, TARGETS.readyMs),
    firstAudioMet: within(t.firstAudioMs, TARGETS.firstAudioMs),
    catalogMet: within(t.allListedMs ?? t.catalogCompleteMs, TARGETS.catalogMs) && within(t.catalogCompleteMs, TARGETS.catalogMs),
  }
}

/**
 * How much of the machine the stack had until the catalog was complete, and the least that
 * stretch could take on the same cores with nothing else running (its CPU seconds over the cores):
 * on a shared machine, what tells a slow run from a crowded one.
 */
export function machineShare(r: FirstRunResult): { cpu: number; share: number; idleSec: number } | null {
  const snap = r.cpu.atComplete
  const cores = Number(r.machine.cores)
  if (!snap || r.timings.catalogCompleteMs === null || !(cores > 0)) return null
  const wall = r.timings.catalogCompleteMs / 1000
  return { cpu: snap.total, share: snap.total / (wall * cores), idleSec: snap.total / cores }
}

const sec = (ms: number | null) => (ms === null ? 'n/a' : `${fmt(ms / 1000, 1)} s`)
const cpuAt = (s: CpuSnapshot | null) => (s ? `${fmt(s.total, 1)} CPU-s` : 'n/a')
const load = (l: number[] | null) => (l ? l.map((v) => fmt(v, 2)).join(' / ') : 'n/a')
const met = (ok: boolean) => (ok ? 'met' : '**missed**')

function summaryRows(r: FirstRunResult): Array<[string, string, string, string]> {
  const t = r.timings
  return [
    ['ready line (servers answer)', sec(t.readyMs), cpuAt(r.cpu.atReady), `30 s: ${met(r.targets.readyMet)}`],
    [`first track published (${r.firstTrack?.trackId ?? '?'})`, sec(t.firstPublishedMs), '', ''],
    ["first track in the edge's list", sec(t.firstListedMs), '', ''],
    ['first audio of it (Node SDK)', sec(t.firstAudioMs), cpuAt(r.cpu.atFirstAudio), `30 s: ${met(r.targets.firstAudioMet)}`],
    [`catalog complete (${r.tracks.filter((x) => x.publishedMs !== undefined).length} tracks)`, sec(t.catalogCompleteMs), cpuAt(r.cpu.atComplete), `120 s: ${met(r.targets.catalogMet)}`],
    ["every track in the edge's list", sec(t.allListedMs), '', ''],
    ['stop (SIGINT to exit)', sec(t.stopMs), r.cpu.atStop ? `${fmt(r.cpu.atStop.total, 1)} CPU-s in all` : '', ''],
  ]
}

export function renderText(r: FirstRunResult): string {
  const rows = summaryRows(r)
  const w = [0, 1, 2, 3].map((i) => Math.max(...rows.map((row) => row[i]!.length)))
  const lines = rows.map((row) => row.map((c, i) => (i === 0 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join('  '))
  const parts = r.cpu.atStop ?? r.cpu.atComplete
  if (parts)
    lines.push(
      `CPU by part at ${sec(parts.atMs)}: ${Object.entries(parts.parts)
        .filter(([, v]) => v > 0)
        .map(([k, v]) => `${k} ${fmt(v, 1)}`)
        .join(', ')}`,
    )
  lines.push(`load average before ${load(r.load.before)}, at ready ${load(r.load.atReady)}, at complete ${load(r.load.atComplete)}, highest 1-min ${fmt(r.load.max1, 2)}`)
  const share = machineShare(r)
  if (share)
    lines.push(
      `the stack had ${fmt(share.share * 100, 0)} % of the ${r.machine.cores} cores until the catalog was complete; its ${fmt(share.cpu, 1)} CPU-s alone take at least ${fmt(share.idleSec, 0)} s on them`,
    )
  for (const e of r.errors) lines.push(`error: ${e}`)
  return `${lines.join('\n')}\n`
}

export function renderMarkdown(r: FirstRunResult): string {
  const t = r.timings
  const snapshots = [
    ['ready', r.cpu.atReady],
    ['first audio', r.cpu.atFirstAudio],
    ['catalog complete', r.cpu.atComplete],
    ['stop', r.cpu.atStop],
  ] as const
  const partNames = ['start', 'encoders', 'origin', 'tracker', 'edge', 'other']
  const audioSec = r.tracks.reduce((n, x) => n + x.durationMs, 0) / 1000
  return `# first-run: \`chorus start\` on an empty data directory

Run ${r.machine.date} on ${r.machine.cpu} (${r.machine.cores} cores), Node ${r.machine.node}.
Command: \`${r.command}\` (${r.options.count} demo tracks${r.options.durationSec ? ` of ${r.options.durationSec} s` : ', their own lengths'}, ${fmt(audioSec, 0)} s of audio).
Times are from the spawn of \`chorus start\`, on the bench's clock.

${mdTable(['milestone', 'time', 'CPU of the stack so far', 'target'], summaryRows(r))}

The first track: ${r.firstTrack ? `${r.firstTrack.trackId}, ${fmt(r.firstTrack.durationMs / 1000, 0)} s, ${r.firstTrack.codec ?? 'codec not reported'}` : 'none'}; the SDK's own time to first audio, from \`play()\`: ${sec(t.sdkTimeToFirstAudioMs)}.
\`chorus start\` reported its ready line at ${sec(r.startReported.readyMs)} and the complete catalog at ${sec(r.startReported.completeMs)} of its own clock.

**CPU seconds by part** (from /proc: each process's user + system time with its threads, plus
the children it reaped; \`start\` is the supervisor with the synthesis thread, chunking,
encryption and publishing; \`encoders\` the ffmpeg processes; each server with its
descendants), sampled every 0.5 s and at each milestone. Cross-check, the kernel's count for
the processes reaped through \`chorus start\` after it exited: ${r.cpu.reapedByKernel === null ? 'n/a' : `${fmt(r.cpu.reapedByKernel, 1)} CPU-s`} (short
by what nobody waited for: the edge's wrangler runs detached). The bench's own process (the SDK
listener, polling, sampling): ${fmt(r.cpu.benchProcess, 1)} CPU-s.

${mdTable(
  ['at', ...partNames, 'total'],
  snapshots.filter(([, s]) => s).map(([name, s]) => [`${name} (${sec(s!.atMs)})`, ...partNames.map((p) => fmt(s!.parts[p] ?? 0, 1)), fmt(s!.total, 1)]),
)}

${(() => {
  const share = machineShare(r)
  return share
    ? `Until the catalog was complete the stack had ${fmt(share.share * 100, 0)} % of the ${r.machine.cores} cores (${fmt(share.cpu, 1)} CPU-s in ${sec(r.timings.catalogCompleteMs)}); with nothing else running, those CPU seconds take at least ${fmt(share.idleSec, 0)} s.\n\n`
    : ''
})()}**Load average** (1 / 5 / 15 min): before the run ${load(r.load.before)} (the rest of the machine), at ready ${load(r.load.atReady)}, at complete ${load(r.load.atComplete)}; highest 1-min figure ${fmt(r.load.max1, 2)}. This machine is shared: compare runs at similar load.

**Tracks** (published / listed by the edge, s):
${r.tracks.map((x) => `${x.trackId} ${sec(x.publishedMs ?? null)} / ${sec(x.listedMs ?? null)}`).join('; ')}

Exit code of \`chorus start\` after SIGINT: ${r.exitCode ?? 'n/a'}; processes left behind: ${r.leftovers.length ? r.leftovers.join(', ') : 'none'}.
${r.errors.length ? `\nErrors:\n${r.errors.map((e) => `- ${e}`).join('\n')}\n` : ''}`
}
