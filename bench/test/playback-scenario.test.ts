import t from 'tap'
import { seeded } from '../../protocol/index.js'
import { createPopularity, createScenario, topShareOf } from '../playback/index.js'

const network = { rttMs: 30, rttJitter: 0.2, peerRttMs: 50, uploadBytesPerSec: 1e6, downBytesPerSec: 2.5e6, loss: 0 }

t.test('popularity: the top 12 % of tracks take about 88 % of the plays', async (t) => {
  for (const count of [60, 5000]) {
    const p = createPopularity(count)
    const random = seeded(7)
    const plays = Array.from({ length: 50_000 }, () => p.sample(random))
    const share = topShareOf(plays, count)
    t.ok(Math.abs(share - 0.88) < 0.02, `${count} tracks: ${(share * 100).toFixed(1)} % of plays to the top 12 %`)
    t.ok(plays.every((r) => r >= 0 && r < count))
  }
})

t.test('a scenario is a function of its seed, and holds queued, habitual, skipped and whole plays', async (t) => {
  const options = { seed: 3, listeners: 20, trackDurationsMs: Array.from({ length: 40 }, (_, i) => 40_000 + i * 1000), durationMs: 600_000, speed: 4, arrivalSpreadMs: 10_000, network }
  const a = createScenario(options)
  const b = createScenario(options)
  const c = createScenario({ ...options, seed: 4 })
  t.same(a.listeners, b.listeners, 'same seed, same scripts')
  t.not(JSON.stringify(a.listeners), JSON.stringify(c.listeners), 'another seed, other scripts')
  const plays = a.listeners.flatMap((l) => l.sessions.flatMap((s) => s.plays))
  t.ok(plays.some((p) => p.queued) && plays.some((p) => p.habitual) && plays.some((p) => !p.queued && !p.habitual))
  t.ok(plays.some((p) => p.listenMs !== null) && plays.some((p) => p.listenMs === null))
  for (const p of plays) {
    if (p.listenMs !== null) t.ok(p.listenMs > 0 && p.listenMs < options.trackDurationsMs[p.rank]!, 'a skip falls inside the track')
    if (p.queued) t.ok(p.upcoming.length >= 0)
  }
  for (const l of a.listeners) {
    t.ok(l.network.rttMs >= 24 && l.network.rttMs <= 36, 'round trips within the jitter')
    t.equal(l.sessions[0]!.kind, 'playlist', 'a first session follows a playlist')
  }
})
