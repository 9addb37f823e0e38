import { type ChildProcess, spawn } from 'node:child_process'
import { chmod, mkdir, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { DEMO_MARKER } from '../../stack/index.js'
import { findFfmpeg } from '../src/audio/ffmpeg.js'
import { CHORUS, tempDataDir } from '../../test-support/fixtures.js'

/**
 * `chorus start` on an empty data directory: the servers answer while the demo catalog is still
 * being made, tracks join one by one, Ctrl-C stops an encode under way without a half track, and
 * the next start goes on with the missing tracks. The encoders are held at a gate (CHORUS_FFMPEG
 * names a wrapper that waits for its turn), so the order of events is the test's, not the
 * machine's load.
 */

interface Stack {
  child: ChildProcess
  lines: Array<Record<string, unknown>>
  /** Resolves with the first JSON line that `match` accepts. */
  next(match: (line: Record<string, unknown>) => boolean, what: string, timeoutMs?: number): Promise<Record<string, unknown>>
  exited: Promise<number | null>
  stderr: () => string
}

function startStack(dataDir: string, ffmpeg: string, extra: string[] = []): Stack {
  const child = spawn(process.execPath, [CHORUS, 'start', '--data', dataDir, '--json', '--origin-port', '0', '--tracker-port', '0', '--edge-port', '0', '--demo-duration', '2', ...extra], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CHORUS_FFMPEG: ffmpeg },
  })
  const lines: Array<Record<string, unknown>> = []
  const waiters: Array<() => void> = []
  let buffered = ''
  let err = ''
  child.stderr!.on('data', (d) => (err += d))
  child.stdout!.on('data', (d) => {
    buffered += d
    for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
      const line = buffered.slice(0, nl)
      buffered = buffered.slice(nl + 1)
      if (line.startsWith('{')) lines.push(JSON.parse(line))
    }
    for (const w of waiters.splice(0)) w()
  })
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  void exited.then(() => {
    for (const w of waiters.splice(0)) w()
  })
  return {
    child,
    lines,
    exited,
    stderr: () => err,
    async next(match, what, timeoutMs = 180_000) {
      const deadline = Date.now() + timeoutMs
      for (;;) {
        const found = lines.find(match)
        if (found) return found
        if (child.exitCode !== null || Date.now() > deadline)
          throw new Error(`no ${what} from chorus start (${child.exitCode !== null ? `it exited ${child.exitCode}` : 'timed out'}): ${JSON.stringify(lines)} ${err.slice(-1500)}`)
        await new Promise<void>((resolve) => {
          waiters.push(resolve)
          setTimeout(resolve, 250)
        })
      }
    },
  }
}

async function stopStack(stack: Stack): Promise<number | null> {
  if (stack.child.exitCode === null) stack.child.kill('SIGINT')
  return stack.exited
}

/** A stand-in ffmpeg that runs the real one once the gate file's number exceeds its turn (runs are numbered from 0). */
async function gatedFfmpeg(dir: string, real: string): Promise<{ path: string; allow(runs: number): Promise<void> }> {
  const gate = join(dir, 'gate')
  const turns = join(dir, 'turns')
  await mkdir(turns, { recursive: true })
  await writeFile(gate, '0\n')
  const path = join(dir, 'ffmpeg-gated')
  await writeFile(
    path,
    `#!/bin/sh
i=0
while ! mkdir "${turns}/$i" 2>/dev/null; do i=$((i + 1)); done
while [ "$i" -ge "$(cat "${gate}")" ]; do sleep 0.05; done
exec "${real}" "$@"
`,
  )
  await chmod(path, 0o755)
  return { path, allow: (runs) => writeFile(gate, `${runs}\n`) }
}

async function edgeTracks(edge: string): Promise<string[]> {
  const body = (await (await fetch(`${edge}/v1/tracks`)).json()) as { tracks: Array<{ trackId: string }> }
  return body.tracks.map((x) => x.trackId)
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

const exists = (path: string) =>
  stat(path).then(
    () => true,
    () => false,
  )

t.test('chorus start on an empty data directory', async (t) => {
  const real = await findFfmpeg()
  if (!real) {
    t.comment('skipped: no ffmpeg (the gate holds ffmpeg runs)')
    return
  }

  // Two runs of their own (data directory, gate, ports) side by side: each waits mostly on its
  // servers' start, which the other's does not slow much.
  t.jobs = 2

  t.test('the ready line comes while the catalog is being made; tracks join; then complete; the next start makes nothing', async (t) => {
    const dataDir = await tempDataDir(t, 'chorus-start-demo')
    const gateDir = `${dataDir}-gate`
    t.teardown(() => rm(gateDir, { recursive: true, force: true }))
    const gate = await gatedFfmpeg(gateDir, real)
    const stack = startStack(dataDir, gate.path, ['--demo-count', '2'])
    t.teardown(() => stopStack(stack))

    const ready = await stack.next((l) => l.ready === true, 'ready line')
    t.same(stack.lines[0], ready, 'the ready line is the first line')
    for (const field of ['url', 'player', 'operator', 'origin', 'edge', 'tracker']) t.type(ready[field], 'string', `ready.${field}`)
    t.equal(ready.catalog, 'building', 'the servers answer before the catalog is complete')
    t.equal(ready.tracks, 0, 'no track yet: every encoder is held')
    t.same(await edgeTracks(String(ready.edge)), [], 'the edge lists nothing yet')
    t.ok(await exists(join(dataDir, DEMO_MARKER)), 'the data directory says the demo catalog is incomplete')

    await gate.allow(1000)
    const complete = await stack.next((l) => l.catalog === 'complete', 'complete line')
    const trackLines = stack.lines.filter((l) => l.catalog === 'track')
    t.same(
      trackLines.map((l) => l.trackId),
      ['demo-01', 'demo-02'],
      'a line per track, in catalog order',
    )
    t.same(
      trackLines.map((l) => [l.done, l.of]),
      [
        [1, 2],
        [2, 2],
      ],
    )
    t.ok(
      trackLines.every((l) => l.durationMs === 2000 && typeof l.ms === 'number'),
      'each says its length and when',
    )
    t.equal(complete.tracks, 2)
    t.ok(Number(complete.ms) >= Number(ready.ms), "complete after ready, on start's own clock")
    t.ok(stack.lines.indexOf(ready) < stack.lines.indexOf(complete))
    // The edge keeps its list 10 s; chorus start purges it as each track lands.
    await until('both tracks in the edge list', async () => (await edgeTracks(String(ready.edge))).length === 2, 8000)
    t.notOk(await exists(join(dataDir, DEMO_MARKER)), 'the marker goes once the catalog is complete')
    t.equal(await stopStack(stack), 0, 'Ctrl-C: exit 0')

    // And a start with a complete catalog (this one) makes nothing, and says so at once.
    const again = startStack(dataDir, gate.path, ['--demo-count', '2'])
    t.teardown(() => stopStack(again))
    t.match(await again.next((l) => l.ready === true, 'ready line'), { catalog: 'complete', tracks: 2 })
    t.match(await again.next((l) => l.catalog === 'complete', 'complete line'), { tracks: 2 })
    t.equal(await stopStack(again), 0)
  })

  t.test('Ctrl-C during an encode leaves whole tracks only, and the next start goes on', async (t) => {
    const dataDir = await tempDataDir(t, 'chorus-start-stop')
    const gateDir = `${dataDir}-gate`
    t.teardown(() => rm(gateDir, { recursive: true, force: true }))
    const gate = await gatedFfmpeg(gateDir, real)
    await gate.allow(3) // the three qualities of the first track
    const first = startStack(dataDir, gate.path, ['--demo-count', '2'])
    t.teardown(() => stopStack(first))
    await first.next((l) => l.ready === true, 'ready line')
    const track = await first.next((l) => l.catalog === 'track', 'first track')
    t.equal(track.trackId, 'demo-01')
    // demo-02's encoders are now waiting at the gate: stop in the middle of its ingest.
    await until("the second track's encoders to start", async () => (await readdir(join(gateDir, 'turns'))).length > 3)
    t.equal(await stopStack(first), 0, 'exit 0')
    const stopped = first.lines.find((l) => l.catalog === 'stopped')
    t.match(stopped, { catalog: 'stopped', tracks: 1, missing: 1 }, 'says what is left')
    t.notOk(first.lines.some((l) => l.catalog === 'complete'))
    t.same((await readdir(join(dataDir, 'tracks'))).sort(), ['demo-01'], 'no trace of the track stopped half way')
    t.same(await readdir(join(dataDir, '.staging')).catch(() => []), [], 'nothing left in staging')
    t.ok(await exists(join(dataDir, DEMO_MARKER)), 'the marker stays')
    const demo01 = (await readFile(join(dataDir, 'tracks', 'demo-01', 'current'), 'utf8')).trim()

    // The gate stays shut (turns 3-5 were the stopped encodes') until the servers answer.
    const second = startStack(dataDir, gate.path, ['--demo-count', '2'])
    t.teardown(() => stopStack(second))
    const ready = await second.next((l) => l.ready === true, 'ready line')
    t.match(ready, { catalog: 'building', tracks: 1 })
    await gate.allow(1000)
    const complete = await second.next((l) => l.catalog === 'complete', 'complete line')
    t.equal(complete.tracks, 2)
    t.same(
      second.lines.filter((l) => l.catalog === 'track').map((l) => l.trackId),
      ['demo-02'],
      'only the missing track is made',
    )
    t.equal((await readFile(join(dataDir, 'tracks', 'demo-01', 'current'), 'utf8')).trim(), demo01, 'demo-01 is the same version')
    t.notOk(await exists(join(dataDir, DEMO_MARKER)))
    t.equal(await stopStack(second), 0)
  })
})
