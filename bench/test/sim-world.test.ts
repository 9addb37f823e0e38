import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { SIM_DEFAULTS, createEventQueue, parseSimOptions, runSim, runWorld, summarizeWorld, type WorldOptions } from '../sim/index.js'

const tiny: WorldOptions = {
  seed: 5,
  population: 2_000,
  activity: 0.05,
  durationMs: 90_000,
  warmupMs: 30_000,
  tracks: 400,
  p2p: true,
  rttMs: 30,
  rttJitter: 0.2,
  peerRttMs: 50,
  originRttMs: 60,
  uploadBytesPerSec: 250_000,
  downBytesPerSec: 2_500_000,
  connectSuccess: 0.85,
  budgetMs: 60_000,
}

t.test('the event queue runs events in time order, ties in the order they were set', async (t) => {
  const q = createEventQueue()
  const seen: string[] = []
  q.after(20, () => seen.push('c'))
  q.after(10, () => seen.push('a'))
  q.after(10, () => {
    seen.push('b')
    q.after(0, () => seen.push('b2'))
  })
  q.after(50, () => seen.push('late'))
  q.run(30)
  t.same(seen, ['a', 'b', 'b2', 'c'])
  t.equal(q.now, 30)
  t.equal(q.size, 1)
})

t.test('a simulated world is a function of its seed, and its figures are consistent', async (t) => {
  const a = summarizeWorld(tiny.population, runWorld(tiny), tiny.durationMs)
  const b = summarizeWorld(tiny.population, runWorld(tiny), tiny.durationMs)
  const strip = (s: typeof a) => ({ ...s, wallSec: 0, heapMb: 0 })
  t.same(strip(a), strip(b), 'same seed, same figures')
  t.equal(a.online, 100)
  t.notOk(a.truncated)
  t.ok(a.plays.counted > 0)
  t.ok(a.ttfaMs.prefetched.n === 0 || a.ttfaMs.prefetched.p50 < a.ttfaMs.cold.p50, 'a prefetched start beats a cold one')
  const played = a.played.cache + a.played.peer + a.played.edge
  t.ok(Math.abs(played - 1) < 1e-9, 'played shares add up')
  t.ok(a.network.peerBytes > 0, 'peers sent bytes')
  t.ok(a.network.serverShare > 0 && a.network.serverShare < 1)
  t.ok(a.peers.established <= a.peers.attempts)
  t.ok(a.tracker && a.tracker.announcesPerSec > 0, 'announces went through the tracker core')
  const by = a.network.edgeBy
  t.ok(Math.abs(by.head + by.noPeer + by.urgent + by.prefetch + by.control - 1) < 1e-9, 'edge bytes by purpose add up')
})

t.test('what-if rules reach the world: the offer budget and the head', async (t) => {
  const base = runWorld(tiny)
  const stingy = runWorld({ ...tiny, connections: { offerBurst: 1, offersPerMinute: 0.01 } })
  t.ok(stingy.clients.offers < base.clients.offers, `a budget of 1 offer makes fewer offers (${stingy.clients.offers} < ${base.clients.offers})`)
  const headShare = (r: ReturnType<typeof runWorld>) => summarizeWorld(tiny.population, r, tiny.durationMs).network.edgeBy.head
  const longHead = runWorld({ ...tiny, headSec: 40 })
  t.ok(headShare(longHead) > headShare(base), 'a longer head sends more of the edge bytes as heads')
  const o = parseSimOptions(['--offer-burst=2', '--offers-per-minute=0.5', '--offers-per-announce=2', '--head-sec=5', '--seed-tracks=64'])
  t.match(o, { offerBurst: 2, offersPerMinute: 0.5, offersPerAnnounce: 2, headSec: 5, seedTracks: 64 })
  t.same(parseSimOptions([]), { ...SIM_DEFAULTS, warmupSec: SIM_DEFAULTS.warmupSec }, 'no flags: the SDK\u2019s own rules')
  t.throws(() => parseSimOptions(['--seed-tracks=65']), /seed-tracks/, 'more seeds than a full cache holds is refused')
})

t.test('with P2P off every network byte comes from the edge', async (t) => {
  const s = summarizeWorld(tiny.population, runWorld({ ...tiny, p2p: false }), tiny.durationMs)
  t.equal(s.network.peerBytes, 0)
  t.equal(s.network.serverShare, 1)
  t.equal(s.played.peer, 0)
  t.equal(s.tracker, undefined)
})

t.test('a tiny sim run writes its report and chart', async (t) => {
  const outDir = await mkdtemp(join(tmpdir(), 'chorus-sim-test-'))
  t.teardown(() => rm(outDir, { recursive: true, force: true }))
  const run = await runSim({ ...SIM_DEFAULTS, levels: [1_000, 3_000], activity: 0.03, durationSec: 60, warmupSec: 20, tracks: 500, outDir, quiet: true }, 'test')
  t.same(
    run.levels.map((l) => l.population),
    [1_000, 3_000],
  )
  t.same(
    run.levels.map((l) => l.online),
    [30, 90],
  )
  t.match(run.markdown, /servers’ share of network bytes/)
  t.match(await readFile(join(outDir, 'sim.svg'), 'utf8'), /^<svg [\s\S]*<\/svg>\n$/)
  t.equal(JSON.parse(await readFile(join(outDir, 'sim.json'), 'utf8')).levels.length, 2)
})
