import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { PLAYBACK_DEFAULTS, runPlayback } from '../playback/index.js'

// A tiny run of the whole benchmark: real origin, edge (workerd), tracker, SDK clients in
// worker processes, both phases. It checks the output is sane, not what the figures are.
t.test('a tiny playback run writes consistent figures for both phases', async (t) => {
  const outDir = await mkdtemp(join(tmpdir(), 'chorus-bench-test-'))
  t.teardown(() => rm(outDir, { recursive: true, force: true }))
  const run = await runPlayback({ ...PLAYBACK_DEFAULTS, listeners: 3, durationSec: 12, speed: 8, tracks: 3, sourceSec: [20], perProcess: 2, outDir, quiet: true }, 'test')
  t.equal(run.files.length, 4)
  const json = JSON.parse(await readFile(join(outDir, 'playback.json'), 'utf8'))
  t.equal(json.options.listeners, 3)
  for (const [name, s] of [
    ['p2p', run.p2p],
    ['cdn', run.cdn!],
  ] as const) {
    t.ok(s.plays.total > 0, `${name}: plays were made`)
    t.ok(s.plays.started > 0, `${name}: some audio started`)
    const plays = json.plays[name] as Array<{ kind: string | null; ttfaMs: number | null; bytes: { cache: number; peer: number; edge: number } }>
    t.equal(plays.length, s.plays.total)
    for (const p of plays) if (p.kind !== null) t.ok(p.ttfaMs! > 0, `${name}: time to first audio is positive`)
    t.equal(s.plays.byKind.cold + s.plays.byKind.cached + s.plays.byKind.prefetched, s.plays.started)
    const shares = s.played.shares
    t.ok(Math.abs(shares.cache + shares.peer + shares.edge - 1) < 1e-9, `${name}: played shares add up`)
    t.ok(s.network.edge > 0, `${name}: the edge sent bytes`)
    t.ok(s.ttfaMs.all.p50 <= s.ttfaMs.all.p99)
  }
  t.equal(run.cdn!.network.peer, 0, 'P2P off: no peer bytes')
  t.equal(run.cdn!.network.serverShare, 1, 'P2P off: the servers send everything')
  t.ok(run.p2p.network.serverShare >= 0 && run.p2p.network.serverShare <= 1)
  t.ok(run.p2p.peerConnections.created >= run.p2p.peerConnections.connected)
  t.match(run.markdown, /## Figures/)
  t.match(run.markdown, /## Targets/)
  for (const svg of ['playback-ttfa.svg', 'playback-bytes.svg']) t.match(await readFile(join(outDir, svg), 'utf8'), /^<svg [\s\S]*<\/svg>\n$/)
})
