import t from 'tap'
import { catalogJson, catalogText } from '../../stack/index.js'
import { FIRST_RUN_DEFAULTS, TARGETS, parseFirstRunOptions, startArgs } from '../first-run/options.js'
import { type ProcStat, parseStat } from '../first-run/proc-cpu.js'
import { type FirstRunResult, groupCpu, judgeTargets, machineShare, partOfCommand, renderMarkdown, renderText } from '../first-run/report.js'
import { parseIngestOptions } from '../ingest/options.js'
import { type IngestBenchResult, renderIngestMarkdown, tableRows, throughput } from '../ingest/run.js'

t.test('first-run options', async (t) => {
  t.same(parseFirstRunOptions([]), FIRST_RUN_DEFAULTS)
  t.equal(parseFirstRunOptions(['--help']), 'help')
  t.match(parseFirstRunOptions(['--quick']), { count: 3, durationSec: 30 })
  t.match(parseFirstRunOptions(['--quick', '--count=5', '--duration=10', '--timeout=60', '--keep', '--name=fr-2']), { count: 5, durationSec: 10, timeoutSec: 60, keep: true, name: 'fr-2' })
  t.throws(() => parseFirstRunOptions(['--count=13']), /--count must be a whole number from 1 to 12/)
  t.throws(() => parseFirstRunOptions(['--duration=1.5']), /--duration/)
  t.throws(() => parseFirstRunOptions(['--name=../x']), /--name/)
})

t.test('the start command of a run', async (t) => {
  t.same(startArgs('/tmp/d', { count: 12, durationSec: undefined }), ['start', '--data', '/tmp/d', '--json', '--origin-port', '0', '--tracker-port', '0', '--edge-port', '0'])
  t.same(startArgs('/tmp/d', { count: 3, durationSec: 30 }).slice(-4), ['--demo-count', '3', '--demo-duration', '30'])
})

t.test('/proc stat lines', async (t) => {
  // A name with spaces and a parenthesis, as workerd's threads or a renamed process can have.
  const line = '4242 (work (er) x) S 4000 4242 4000 0 -1 4194560 100 0 0 0 250 50 30 20 20 0 5 0 12345 0 0'
  t.same(parseStat(line, 100), { pid: 4242, ppid: 4000, comm: 'work (er) x', state: 'S', self: 3, reaped: 0.5 })
  const self = parseStat(`${process.pid} (node) R 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 1 0 0`, 100)
  t.equal(self.pid, process.pid)
})

t.test('CPU by part', async (t) => {
  const p = (pid: number, ppid: number, comm: string, self: number, reaped = 0): ProcStat => ({ pid, ppid, comm, state: 'S', self, reaped })
  const tree = [
    p(100, 1, 'node', 2, 5), // chorus start: 2 s itself, 5 s of finished encoders
    p(101, 100, 'node', 1), // origin
    p(102, 100, 'node', 0.5), // tracker
    p(103, 100, 'node', 0.5, 0.25), // chorus edge
    p(104, 103, 'node', 1), // wrangler
    p(105, 104, 'workerd', 2),
    p(106, 100, 'ffmpeg', 0.75),
    p(107, 100, 'esbuild', 0.25),
  ]
  const commands: Record<number, string[]> = {
    101: ['/usr/bin/node', '/x/bin/chorus.js', 'origin', '--data', 'd'],
    102: ['/usr/bin/node', '/x/bin/chorus.js', 'tracker'],
    103: ['/usr/bin/node', '/x/bin/chorus.js', 'edge', '--origin', 'u'],
    106: ['/x/node_modules/@ffmpeg-installer/linux-x64/ffmpeg', '-i', 'pipe:0'],
    107: ['/x/node_modules/@esbuild/linux-x64/bin/esbuild', '--service=0.28.2'],
  }
  const snap = groupCpu(tree, 100, (s) => partOfCommand(commands[s.pid] ?? [], s.comm), 1234)
  t.same(snap.parts, { start: 2, encoders: 5.75, origin: 1, tracker: 0.5, edge: 3.75, other: 0.25 })
  t.equal(snap.total, 13.25)
  t.equal(snap.atMs, 1234)
  t.equal(partOfCommand(['/bin/sh', '/tmp/gate/ffmpeg'], 'sh'), 'encoders', 'a wrapper named ffmpeg is an encoder')
})

function fakeResult(over: Partial<FirstRunResult['timings']> = {}): FirstRunResult {
  const timings: FirstRunResult['timings'] = {
    readyMs: 4000,
    firstPublishedMs: 6000,
    firstListedMs: 6500,
    firstAudioMs: 7000,
    sdkTimeToFirstAudioMs: 300,
    catalogCompleteMs: 60000,
    allListedMs: 61000,
    stopMs: 900,
    ...over,
  }
  const snap = { atMs: 4000, total: 8, parts: { start: 1, encoders: 2, origin: 1, tracker: 1, edge: 3, other: 0 } }
  return {
    bench: 'first-run',
    machine: { cpu: 'test cpu', cores: 2, node: 'v20', date: '2026-12-03T00:00:00Z' },
    command: 'chorus start --json',
    options: { count: 12, durationSec: null },
    timings,
    startReported: { readyMs: 3500, completeMs: 59500 },
    firstTrack: { trackId: 'demo-01', durationMs: 154000, codec: 'aac' },
    tracks: [{ trackId: 'demo-01', durationMs: 154000, publishedMs: 6000, listedMs: 6500 }],
    cpu: { atReady: snap, atFirstAudio: snap, atComplete: snap, atStop: snap, reapedByKernel: 7.5, benchProcess: 0.4 },
    load: { before: [0.5, 0.4, 0.3], atReady: [1, 0.5, 0.3], atComplete: [2, 1, 0.5], max1: 2 },
    exitCode: 0,
    leftovers: [],
    errors: [],
    targets: judgeTargets(timings),
  }
}

t.test('targets and reports', async (t) => {
  t.match(fakeResult().targets, { readyMet: true, firstAudioMet: true, catalogMet: true, ...TARGETS })
  t.match(fakeResult({ readyMs: 31_000 }).targets, { readyMet: false })
  t.match(fakeResult({ firstAudioMs: null }).targets, { firstAudioMet: false }, 'no first audio is a miss')
  t.match(fakeResult({ catalogCompleteMs: 130_000 }).targets, { catalogMet: false })
  const md = renderMarkdown(fakeResult({ readyMs: 31_000 }))
  t.match(md, /\| ready line \(servers answer\) \| 31\.0 s \| 8\.0 CPU-s \| 30 s: \*\*missed\*\* \|/)
  t.match(md, /first audio of it \(Node SDK\) \| 7\.0 s/)
  t.match(md, /at \| start \| encoders \| origin \| tracker \| edge \| other \| total/)
  t.match(renderText(fakeResult()), /catalog complete \(1 tracks\)\s+60\.0 s/)
  // 8 CPU-s over the 60 s to the complete catalog on 2 cores: 6.7 % of the machine, 4 s if alone.
  t.same(machineShare(fakeResult()), { cpu: 8, share: 8 / 120, idleSec: 4 })
  t.equal(machineShare(fakeResult({ catalogCompleteMs: null })), null)
  t.match(renderMarkdown(fakeResult()), /the stack had 7 % of the 2 cores \(8\.0 CPU-s in 60\.0 s\); with nothing else running, those CPU seconds take at least 4 s/)
})

t.test('the catalog lines of chorus start', async (t) => {
  const track = { trackId: 'demo-03', title: 'Copper Kettle', durationMs: 132_000, codec: 'aac' as const }
  t.same(catalogJson({ kind: 'track', track, done: 3, total: 12, tracks: 3, ms: 8123.4 }), {
    catalog: 'track',
    trackId: 'demo-03',
    title: 'Copper Kettle',
    durationMs: 132000,
    codec: 'aac',
    done: 3,
    of: 12,
    tracks: 3,
    ms: 8123,
  })
  t.same(catalogJson({ kind: 'complete', tracks: 12, ms: 61234.5, built: 12 }), { catalog: 'complete', tracks: 12, ms: 61235 })
  t.same(catalogJson({ kind: 'stopped', tracks: 5, missing: 7, ms: 1 }), { catalog: 'stopped', tracks: 5, missing: 7, ms: 1 })
  t.match(catalogJson({ kind: 'failed', error: 'ffmpeg died', tracks: 2, ms: 1 }), { catalog: 'failed', error: 'ffmpeg died' })
  t.equal(catalogText({ kind: 'track', track, done: 3, total: 12, tracks: 3, ms: 8123 }), 'demo  3/12 ready: demo-03  2:12  Copper Kettle  (at 8.1 s)')
  t.equal(catalogText({ kind: 'complete', tracks: 12, ms: 61234, built: 12 }), 'demo catalog complete: 12 tracks, at 61.2 s')
  t.equal(catalogText({ kind: 'complete', tracks: 40, ms: 3000, built: 0 }), 'catalog: 40 tracks', 'a catalog that was there: no demo talk')
  t.match(catalogText({ kind: 'stopped', tracks: 5, missing: 7, ms: 1 }), /7 track\(s\) to go; the next start goes on/)
})

t.test('ingest bench options and figures', async (t) => {
  t.match(parseIngestOptions([]), { track: 'demo-01', durationSec: 60, rounds: 1, mp3: true, bitrates: [96, 160, 320] })
  t.match(parseIngestOptions(['--duration=0', '--track=demo-10']), { track: 'demo-10', durationSec: 122 }, "0 = the track's own length")
  t.match(parseIngestOptions(['--quick', '--no-mp3', '--bitrates=320,96,96']), { durationSec: 15, mp3: false, bitrates: [96, 320] })
  t.throws(() => parseIngestOptions(['--track=demo-99']), /--track must be one of/)
  t.throws(() => parseIngestOptions(['--rounds=0']), /--rounds/)
  t.equal(throughput(60, { wallSec: 1, cpuSec: 0.5, bytes: 1, codec: 'aac' }), 120)
  t.equal(throughput(60, null), null)
  const m = (cpuSec: number, bytes: number, codec: string) => ({ wallSec: cpuSec, cpuSec, bytes, codec, rounds: [] })
  const result: IngestBenchResult = {
    bench: 'ingest',
    machine: { cpu: 'x', cores: 2, node: 'v20', date: 'd' },
    options: { track: 'demo-01', durationSec: 60, rounds: 1, bitrates: [96] },
    ffmpeg: '/usr/bin/ffmpeg',
    synthesis: { cpuSec: 0.3, audioPerCpuSec: 200 },
    rows: [{ quality: 96, newPath: m(0.6, 720_000, 'aac'), oldPath: m(6, 720_000, 'mp3'), newAudioPerCpuSec: 100, oldAudioPerCpuSec: 10, ratio: 10 }],
    load: { before: [1, 1, 1], after: [1, 1, 1] },
  }
  t.same(tableRows(result), [['96 kbit/s', '100.0 (0.60 CPU-s, 100x real time, 96 kbit/s)', '10.0 (6.00 CPU-s, 10x real time, 96 kbit/s)', '10.0x']])
  t.match(renderIngestMarkdown(result), /\| 96 kbit\/s \| 100\.0 .* \| 10\.0x \|/)
})
