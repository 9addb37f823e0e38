import t from 'tap'
import { createHabits } from '../src/core/habits.js'
import { chooseQuality } from '../src/quality.js'
import { createTokenBucket } from '../src/core/token-bucket.js'

t.test('habits: the context order first, then what usually followed', async (t) => {
  const h = createHabits()
  h.record('a', 'x')
  h.record('a', 'x')
  h.record('a', 'y')
  t.same(h.predict('a'), ['x', 'y'])
  t.same(h.predict('a', { tracks: ['a', 'b', 'c', 'd'] }), ['b', 'x', 'y'])
  t.same(h.predict('z'), [], 'no history, no guess')
  const again = createHabits(JSON.parse(JSON.stringify(h.toJSON())))
  t.same(again.predict('a'), ['x', 'y'], 'survives a round trip through JSON')
})

t.test('quality: a number picks that bitrate or the next lower; auto follows throughput and the cache', async (t) => {
  const q = (bitrate: number) => ({ bitrate }) as never
  const m = { qualities: [q(96), q(160), q(320)] } as never
  t.equal(chooseQuality(m, 160, undefined).bitrate, 160)
  t.equal(chooseQuality(m, 200, undefined).bitrate, 160)
  t.equal(chooseQuality(m, 32, undefined).bitrate, 96)
  t.equal(chooseQuality(m, 'auto', undefined).bitrate, 160, 'the middle before any measurement')
  t.equal(chooseQuality(m, 'auto', 1_000_000).bitrate, 320)
  t.equal(chooseQuality(m, 'auto', 30_000).bitrate, 96)
  t.equal(chooseQuality(m, 'auto', 1_000_000, [96]).bitrate, 96, 'a cached quality plays without fetching')
})

t.test('upload rate cap', async (t) => {
  const b = createTokenBucket(100_000, 50_000)
  t.equal(b.take(50_000, 0), 0, 'the burst goes at once')
  t.equal(b.take(50_000, 0), 500, 'then at the rate')
  t.equal(b.take(10_000, 1000), 0, 'refilled after waiting')
})
