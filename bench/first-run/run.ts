import { mkdtemp, rm } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { DEMO_API_KEY } from '../../origin/index.js'
import { supervise } from '../../support/process.js'
import { machineInfo } from '../src/machine.js'
import { ROOT } from '../src/process.js'
import { writeResults } from '../src/report.js'
import { FIRST_RUN_HELP, type FirstRunOptions, parseFirstRunOptions, startArgs } from './options.js'
import { type ProcStat, cmdline, procAvailable, processTree, readStat, reapedChildrenCpu } from './proc-cpu.js'
import { type CpuSnapshot, type FirstRunResult, type Part, type TrackSeen, groupCpu, judgeTargets, partOfCommand, renderMarkdown, renderText } from './report.js'

const CHORUS = join(ROOT, 'bin/chorus.js')

/** Resolves when `check` is true, polling; rejects past the deadline or when `abort` fires. */
async function until(check: () => boolean, deadline: number, abort: AbortSignal): Promise<void> {
  while (!check()) {
    abort.throwIfAborted()
    if (performance.now() > deadline) throw new Error('timed out')
    await new Promise((r) => setTimeout(r, 50))
  }
}

export async function runFirstRun(o: FirstRunOptions): Promise<FirstRunResult> {
  const log = (line: string) => {
    if (!o.quiet) process.stderr.write(`${line}\n`)
  }
  if (!procAvailable()) throw new Error('first-run reads CPU times from /proc: Linux only')
  const machine = machineInfo()
  const dataDir = await mkdtemp(join(tmpdir(), 'chorus-first-run-'))
  const args = startArgs(dataDir, o)
  const command = `chorus ${args.join(' ').replace(dataDir, '<empty temp dir>')}`
  const errors: string[] = []
  const tracks = new Map<string, TrackSeen>()
  const timings: FirstRunResult['timings'] = {
    readyMs: null,
    firstPublishedMs: null,
    firstListedMs: null,
    firstAudioMs: null,
    sdkTimeToFirstAudioMs: null,
    catalogCompleteMs: null,
    allListedMs: null,
    stopMs: null,
  }
  const startReported: FirstRunResult['startReported'] = { readyMs: null, completeMs: null }
  const cpu: FirstRunResult['cpu'] = { atReady: null, atFirstAudio: null, atComplete: null, atStop: null, reapedByKernel: null, benchProcess: 0 }
  const load: FirstRunResult['load'] = { before: loadavg(), atReady: null, atComplete: null, max1: loadavg()[0]! }
  let firstTrack: FirstRunResult['firstTrack'] = null
  let ready: Record<string, unknown> | undefined
  let failed: string | undefined

  const reapedBefore = reapedChildrenCpu()
  const benchCpu = process.cpuUsage()
  const t0 = performance.now()
  const at = () => performance.now() - t0
  const deadline = t0 + o.timeoutSec * 1000
  log(`first-run: ${command}`)
  const start = supervise({ name: 'chorus start', args: [CHORUS, ...args], cwd: ROOT, env: { ...process.env, WRANGLER_SEND_METRICS: 'false' }, onLine: (line) => onLine(line) })
  const child = start.child
  const root = child.pid!
  const gone = new AbortController()
  let exitCode: number | null = null
  const exited = start.exited.then(({ code, signal }) => {
    exitCode = code ?? (signal ? 128 : null)
    gone.abort(new Error(`chorus start exited (${code ?? signal}) before the run was over`))
  })

  // The process tree, sampled: CPU at each milestone, and who was there (for leftovers).
  const parts = new Map<number, Part>()
  const partOf = (s: ProcStat): Part => {
    let p = parts.get(s.pid)
    if (!p) {
      p = partOfCommand(cmdline(s.pid), s.comm)
      parts.set(s.pid, p)
    }
    return p
  }
  let lastTree: ProcStat[] = []
  const snapshot = (): CpuSnapshot | null => {
    const tree = processTree(root)
    if (tree.length === 0) return null
    lastTree = tree
    return groupCpu(tree, root, partOf, at())
  }
  const sampler = setInterval(() => {
    snapshot()
    load.max1 = Math.max(load.max1, loadavg()[0]!)
  }, 500)

  // `chorus start` holds its catalog lines until its ready line is out; each carries the time
  // it happened on start's own clock (ms), turned into the bench's by the ready line's offset.
  const startClock = (ms: unknown): number => (typeof ms === 'number' && timings.readyMs !== null && startReported.readyMs !== null ? ms + (timings.readyMs - startReported.readyMs) : at())
  function onLine(line: string): void {
    if (!line.startsWith('{')) return
    let msg: Record<string, unknown>
    try {
      msg = JSON.parse(line)
    } catch {
      return
    }
    if (msg.ready === true && !ready) {
      ready = msg
      timings.readyMs = at()
      startReported.readyMs = typeof msg.ms === 'number' ? msg.ms : null
      cpu.atReady = snapshot()
      load.atReady = loadavg()
      log(`  ready at ${(at() / 1000).toFixed(1)} s: ${String(msg.edge)}`)
    } else if (msg.catalog === 'track') {
      const id = String(msg.trackId)
      const seen = tracks.get(id) ?? { trackId: id, durationMs: Number(msg.durationMs) }
      seen.publishedMs = startClock(msg.ms)
      seen.durationMs = Number(msg.durationMs)
      tracks.set(id, seen)
      if (timings.firstPublishedMs === null) {
        timings.firstPublishedMs = seen.publishedMs
        firstTrack = { trackId: id, durationMs: seen.durationMs, codec: typeof msg.codec === 'string' ? msg.codec : null }
      }
      log(`  ${id} published at ${(seen.publishedMs / 1000).toFixed(1)} s (${msg.done}/${msg.of})`)
    } else if (msg.catalog === 'complete') {
      startReported.completeMs = typeof msg.ms === 'number' ? msg.ms : null
      timings.catalogCompleteMs = startClock(msg.ms)
      cpu.atComplete = snapshot()
      load.atComplete = loadavg()
      log(`  catalog complete at ${(timings.catalogCompleteMs / 1000).toFixed(1)} s: ${msg.tracks} tracks`)
    } else if (msg.catalog === 'failed') {
      failed = `the catalog build failed: ${String(msg.error)}`
    }
  }

  try {
    await until(() => ready !== undefined || failed !== undefined, deadline, gone.signal)
    if (!ready) throw new Error(failed)
    const edge = String(ready.edge)

    // The edge's list, polled; the first track listed is played once through the SDK.
    let listed = 0
    let playing: Promise<void> | undefined
    const play = async (trackId: string) => {
      const { createClient } = await import('../../client-sdk/index.js')
      const client = await createClient({ edge, keys: String(ready!.origin), apiKey: DEMO_API_KEY, cache: false, p2p: false, prefetch: false })
      try {
        const playback = client.play(trackId)
        const started = await playback.ready
        timings.firstAudioMs = at()
        timings.sdkTimeToFirstAudioMs = started.timeToFirstAudioMs
        cpu.atFirstAudio = snapshot()
        log(`  first audio of ${trackId} at ${(at() / 1000).toFixed(1)} s (the SDK's time to first audio ${started.timeToFirstAudioMs.toFixed(0)} ms)`)
        playback.stop()
      } finally {
        await client.close()
      }
    }
    while (listed < o.count || timings.catalogCompleteMs === null || (playing && timings.firstAudioMs === null)) {
      gone.signal.throwIfAborted()
      if (failed) throw new Error(failed)
      if (performance.now() > deadline) throw new Error(`timed out after ${o.timeoutSec} s`)
      try {
        const res = await fetch(`${edge}/v1/tracks`, { signal: AbortSignal.timeout(5000) })
        const body = (await res.json()) as { tracks?: Array<{ trackId: string; durationMs: number }> }
        for (const entry of body.tracks ?? []) {
          const seen = tracks.get(entry.trackId) ?? { trackId: entry.trackId, durationMs: entry.durationMs }
          if (seen.listedMs === undefined) seen.listedMs = at()
          tracks.set(entry.trackId, seen)
        }
        listed = body.tracks?.length ?? 0
        if (listed > 0 && timings.firstListedMs === null) {
          timings.firstListedMs = at()
          const first = body.tracks![0]!.trackId
          log(`  ${first} in the edge's list at ${(at() / 1000).toFixed(1)} s`)
          playing = play(first).catch((err: Error) => void errors.push(`first audio: ${err.message}`))
        }
        if (listed >= o.count && timings.allListedMs === null) timings.allListedMs = at()
      } catch (err) {
        if (gone.signal.aborted) throw err
      }
      if (playing && timings.firstAudioMs === null && errors.some((e) => e.startsWith('first audio'))) break
      await new Promise((r) => setTimeout(r, o.pollMs))
    }
    await playing
  } catch (err) {
    errors.push((err as Error).message)
    if (start.stderrTail()) errors.push(`chorus start said: ${start.stderrTail(4)}`)
  } finally {
    clearInterval(sampler)
    cpu.atStop = snapshot()
    // Stop as Ctrl-C would (to this process alone: a terminal would also signal the children).
    const stopAt = performance.now()
    if (!start.done) {
      await start.stop(30_000, 'SIGINT')
      timings.stopMs = performance.now() - stopAt
    }
    await exited
  }
  // Anything of the tree still running was left behind: say so, and end it.
  await new Promise((r) => setTimeout(r, 500))
  const leftovers: string[] = []
  for (const s of lastTree) {
    if (s.pid === root) continue
    const now = readStat(s.pid)
    if (!now || now.comm !== s.comm || now.state === 'Z') continue
    leftovers.push(`${s.comm} (${s.pid})`)
    try {
      process.kill(s.pid, 'SIGKILL')
    } catch {}
  }
  cpu.reapedByKernel = reapedChildrenCpu() - reapedBefore
  const c = process.cpuUsage(benchCpu)
  cpu.benchProcess = (c.user + c.system) / 1e6
  if (!o.keep) await rm(dataDir, { recursive: true, force: true })
  else log(`data directory kept: ${dataDir}`)

  return {
    bench: 'first-run',
    machine,
    command,
    options: { count: o.count, durationSec: o.durationSec ?? null },
    timings,
    startReported,
    firstTrack,
    tracks: [...tracks.values()].sort((a, b) => a.trackId.localeCompare(b.trackId)),
    cpu,
    load,
    exitCode,
    leftovers,
    errors,
    targets: judgeTargets(timings),
  }
}

export async function run(argv: string[]): Promise<void> {
  const o = parseFirstRunOptions(argv)
  if (o === 'help') {
    process.stdout.write(FIRST_RUN_HELP)
    return
  }
  const result = await runFirstRun(o)
  process.stdout.write(renderText(result))
  const files = o.outDir ? await writeResultsTo(o.outDir, o.name, result) : await writeResults(o.name, result, renderMarkdown(result))
  process.stderr.write(`wrote ${files.join(', ')}\n`)
}

async function writeResultsTo(dir: string, name: string, result: FirstRunResult): Promise<string[]> {
  const { mkdir, writeFile } = await import('node:fs/promises')
  await mkdir(dir, { recursive: true })
  const files = [join(dir, `${name}.json`), join(dir, `${name}.md`)]
  await writeFile(files[0]!, `${JSON.stringify(result, null, 2)}\n`)
  await writeFile(files[1]!, renderMarkdown(result))
  return files
}
