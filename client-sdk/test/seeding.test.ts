// Which swarms a client serves with nothing playing in them (src/core/seeding.ts), values in and
// out: a new session's seeds from its cache, and the seeding list as playbacks end.

import t from 'tap'
import { DEFAULT_SEEDING_RULES, pickCacheSeeds, releaseSeed } from '../src/core/seeding.js'

t.test('a new session seeds its most recent whole cached tracks, looking at 3 for each, oldest joined first', async (t) => {
  t.equal(DEFAULT_SEEDING_RULES.fromCache, 24)
  t.equal(pickCacheSeeds<string>().candidates, 72, 'the default: 24 seeds among the 72 most recent')
  const pick = pickCacheSeeds<string>({ fromCache: 10, candidatesPerSeed: 3 })
  t.equal(pick.candidates, 30)
  const looked: string[] = []
  // Most recent first; every third is not whole.
  for (let i = 0; i < pick.candidates && pick.wanted(); i++) {
    looked.push(`t${i}`)
    pick.consider(`t${i}`, i % 3 !== 2)
  }
  t.equal(looked.length, 14, 'stops once 10 whole ones are found')
  t.same(pick.joinOrder(), ['t13', 't12', 't10', 't9', 't7', 't6', 't4', 't3', 't1', 't0'], 'the most recent are joined last')
  const few = pickCacheSeeds<number>({ fromCache: 2, candidatesPerSeed: 3 })
  t.equal(few.candidates, 6)
  few.consider(1, false)
  few.consider(2, true)
  t.ok(few.wanted())
  few.consider(3, true)
  t.notOk(few.wanted())
  few.consider(4, true)
  t.same(few.joinOrder(), [3, 2], 'no more than fromCache')
  t.same(pickCacheSeeds({ fromCache: 0, candidatesPerSeed: 3 }).wanted(), false)
})

t.test('the seeding list keeps the last 24 swarms; the oldest leaves, one join per entry', async (t) => {
  t.equal(DEFAULT_SEEDING_RULES.swarms, 24)
  t.ok(DEFAULT_SEEDING_RULES.swarms + 1 + 3 < 32, "a playback and 3 prefetches fit beside them under the tracker's 32 swarms per socket")
  const n = DEFAULT_SEEDING_RULES.swarms
  let seeding: number[] = []
  for (let i = 0; i < n; i++) {
    const r = releaseSeed(seeding, i, true)
    t.same(r.evicted, [])
    t.notOk(r.dropJoin)
    seeding = r.seeding
  }
  const full = releaseSeed(seeding, n, true)
  t.same(full.evicted, [0], `past ${n}, the oldest leaves`)
  t.same(full.seeding, [...Array.from({ length: n - 1 }, (_, i) => i + 1), n])
  const again = releaseSeed(full.seeding, 5, true)
  t.ok(again.dropJoin, 'a track seeded already: its second join is dropped')
  t.same(again.evicted, [])
  t.equal(again.seeding.at(-1), 5, 'and it becomes the most recent')
  t.equal(again.seeding.length, n)
  t.same(releaseSeed([1, 2, 3], 4, true, { swarms: 2 }), { seeding: [3, 4], dropJoin: false, evicted: [1, 2] })
  t.same(releaseSeed([1, 2], 3, false), { seeding: [1, 2], dropJoin: true, evicted: [] }, 'download-only: the swarm is left at once')
})
