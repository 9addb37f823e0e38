// W-TinyLFU: its admission rule, and the behaviour published for it (Einziger,
// Friedman and Manes, ACM TOS 2017; Caffeine's simulator), on synthetic
// versions of the patterns those results are known for.
import t from 'tap'
import { createLru, createPolicy, createWTinyLfu } from '../src/policy/index.js'
import type { EvictionPolicy } from '../src/policy/index.js'
import { seeded as prng } from '../../test-support/seeded.js'

function hitRatio(policy: EvictionPolicy, keys: readonly number[], from = 0): number {
  let hits = 0
  keys.forEach((key, i) => {
    if (policy.access(`k${key}`, 1).hit && i >= from) hits++
  })
  return hits / (keys.length - from)
}

t.test('new keys land in the window, move to probation, and a hit there protects them', async (t) => {
  const p = createWTinyLfu(100, { adaptive: false })
  p.access('a', 1)
  t.equal(p.where('a'), 'window')
  p.access('b', 1)
  t.equal(p.where('a'), 'probation', 'the 1-byte window holds only the newest')
  p.access('a', 1)
  t.equal(p.where('a'), 'protected')
  t.equal(p.frequency('a'), 2)
})

t.test('admission: a candidate must have been asked for more often than the victim', async (t) => {
  const p = createWTinyLfu(10, { adaptive: false })
  for (let i = 0; i < 10; i++) {
    p.access(`old${i}`, 1)
    p.access(`old${i}`, 1)
  }
  // Full of keys seen twice. A key seen once leaves the window and loses its duel.
  p.access('once', 1)
  const next = p.access('next', 1)
  t.same(next.evicted, ['once'], 'the candidate goes, main is untouched')
  t.equal(p.has('next'), true, 'the newest is always stored')
  // A key seen three times (in the window) wins against a victim seen twice.
  t.same(p.access('hot', 1).evicted, ['next'], 'next, seen once, loses its duel in turn')
  p.access('hot', 1)
  p.access('hot', 1)
  const after = p.access('later', 1)
  t.equal(after.evicted.length, 1)
  t.match(after.evicted[0], /^old/, 'hot displaced a key seen twice')
  t.equal(p.where('hot'), 'probation')
  t.equal(p.bytes, 10)
})

// Within a sample (10 x C requests): aging halves the hot keys' counts, and a
// longer scan would in time wear them down to the scan's own (as intended). A
// few scan keys are over-counted by sketch collisions and win a duel.
t.test('a tie keeps the victim: a scan of new keys cannot flush main', async (t) => {
  const tiny = createWTinyLfu(100, { adaptive: false })
  const lru = createLru(100)
  for (const p of [tiny, lru]) {
    for (let round = 0; round < 3; round++) for (let i = 0; i < 50; i++) p.access(`hot${i}`, 1)
    for (let i = 0; i < 1000; i++) p.access(`scan${i}`, 1)
  }
  const kept = (p: EvictionPolicy): number => [...p.keys()].filter((k) => k.startsWith('hot')).length
  t.ok(kept(tiny) >= 45, `${kept(tiny)} of 50 hot keys survive the scan`)
  t.equal(kept(lru), 0, 'LRU keeps none')
})

t.test('byte-aware: a large newcomer pushes out as many as it needs', async (t) => {
  const p = createWTinyLfu(10, { adaptive: false })
  for (let i = 0; i < 10; i++) p.access(`k${i}`, 1)
  const result = p.access('big', 6)
  t.equal(result.evicted.length, 6)
  t.equal(p.has('big'), true)
  t.equal(p.bytes, 10)
})

// Published: on looping traces (LIRS's glimpse and sprite, Caffeine's wiki) LRU
// hits nothing once the loop is longer than the cache, and W-TinyLFU is close
// to OPT, which keeps a fixed part of the loop: (C - 1) / (N - 1) of it.
t.test('looping access: W-TinyLFU near OPT, LRU at zero', async (t) => {
  const loop = Array.from({ length: 60000 }, (_, i) => i % 1500)
  const tiny = hitRatio(createWTinyLfu(1000), loop)
  const lru = hitRatio(createLru(1000), loop)
  const opt = 999 / 1499
  t.equal(lru, 0)
  t.ok(tiny > opt - 0.1, `W-TinyLFU ${(tiny * 100).toFixed(1)}% against OPT ${(opt * 100).toFixed(1)}%`)
})

t.test('frequency-skewed (Zipf 0.9) access: W-TinyLFU well ahead of LRU', async (t) => {
  const rand = prng(3)
  const n = 50000
  const cdf = new Float64Array(n)
  let total = 0
  for (let i = 0; i < n; i++) cdf[i] = total += (i + 1) ** -0.9
  const keys = Array.from({ length: 100000 }, () => {
    const u = rand() * total
    let low = 0
    let high = n - 1
    while (low < high) {
      const mid = (low + high) >> 1
      if ((cdf[mid] as number) < u) low = mid + 1
      else high = mid
    }
    return low
  })
  const tiny = hitRatio(createWTinyLfu(1000), keys)
  const lru = hitRatio(createLru(1000), keys)
  t.ok(tiny > lru + 0.05, `W-TinyLFU ${(tiny * 100).toFixed(1)}%, LRU ${(lru * 100).toFixed(1)}%`)
})

// Published (Einziger et al., "Adaptive Software Cache Management",
// Middleware'18): with a fixed 1 % window W-TinyLFU falls well behind LRU
// when recency is all there is; the hill climber grows the window until it
// is close to LRU. Keys here are re-requested soon after they first appear,
// and rarely later.
t.test('recency-skewed access: the adaptive window brings it near LRU', async (t) => {
  const rand = prng(3)
  const keys: number[] = []
  let newest = 0
  for (let i = 0; i < 300000; i++) {
    if (rand() < 0.25 || newest < 10) newest++
    keys.push(Math.max(0, newest - Math.floor(rand() ** 3 * 2000)))
  }
  const half = keys.length / 2
  const adaptive = createWTinyLfu(500)
  const fixed = hitRatio(createWTinyLfu(500, { adaptive: false }), keys, half)
  const tiny = hitRatio(adaptive, keys, half)
  const lru = hitRatio(createLru(500), keys, half)
  t.ok(fixed < lru - 0.1, `fixed 1 % window: ${(fixed * 100).toFixed(1)}% against LRU ${(lru * 100).toFixed(1)}%`)
  t.ok(tiny > lru - 0.02, `adaptive, second half: ${(tiny * 100).toFixed(1)}% against LRU ${(lru * 100).toFixed(1)}%`)
  t.ok(adaptive.windowBytes > 250, `the window grew to ${adaptive.windowBytes.toFixed(0)} of 500 bytes`)
})

t.test('createPolicy builds it, adaptive', async (t) => {
  const p = createPolicy('w-tinylfu', 1000)
  t.equal(p.name, 'w-tinylfu')
})

t.test('bad options name the option', async (t) => {
  t.throws(() => createWTinyLfu(10, { windowRatio: 1 }), { name: 'TypeError', message: /windowRatio/ })
  t.throws(() => createWTinyLfu(10, { windowRatio: -0.1 }), { name: 'TypeError', message: /windowRatio/ })
  t.throws(() => createWTinyLfu(10, { protectedRatio: 1 }), { name: 'TypeError', message: /protectedRatio/ })
  t.throws(() => createWTinyLfu(10, { adaptive: 'yes' as never }), { name: 'TypeError', message: /adaptive/ })
})
