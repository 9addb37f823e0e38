// The count-min sketch behind W-TinyLFU's admission and the chunk-aware policy's popularity.
import t from 'tap'
import { createFrequencySketch, hashKey } from '../src/policy/index.js'

t.test('counts requests per key, exactly while the sketch is sparse', async (t) => {
  const sketch = createFrequencySketch({ entries: 1024 })
  const keys = Array.from({ length: 200 }, (_, i) => hashKey(`/v1/chunks/t${i}/v1/160/0`))
  keys.forEach((hash, i) => {
    for (let n = 0; n < i % 10; n++) sketch.increment(hash)
  })
  let wrong = 0
  keys.forEach((hash, i) => {
    if (sketch.frequency(hash) !== i % 10) wrong++
  })
  t.ok(wrong <= 2, `${wrong} of 200 keys mis-counted (only by collisions, upwards)`)
  t.equal(sketch.frequency(hashKey('never seen')), 0)
})

t.test('never under-counts, whatever the collisions', async (t) => {
  // 4 x 16 counters a row for 5,000 keys: heavily loaded, so collisions are many.
  const sketch = createFrequencySketch({ entries: 16, sampleFactor: 1024 })
  const truth = new Map<number, number>()
  for (let i = 0; i < 5000; i++) {
    const hash = hashKey(`k${i % 997}`)
    sketch.increment(hash)
    truth.set(hash, (truth.get(hash) ?? 0) + 1)
  }
  let under = 0
  for (const [hash, count] of truth) if (sketch.frequency(hash) < Math.min(15, count)) under++
  t.equal(under, 0)
})

t.test('counters saturate: at 15 by default, at 65535 for rates', async (t) => {
  const small = createFrequencySketch()
  const wide = createFrequencySketch({ maxCount: 65535, entries: 1 << 16 })
  const hash = hashKey('hot')
  for (let i = 0; i < 1000; i++) {
    small.increment(hash)
    wide.increment(hash)
  }
  t.equal(small.frequency(hash), 15)
  t.equal(wide.frequency(hash), 1000)
})

t.test('aging: every sample of 10 x entries additions halves every counter', async (t) => {
  const sketch = createFrequencySketch({ entries: 64 })
  t.equal(sketch.sampleSize, 640)
  t.equal(sketch.width, 256, '4 counters a row per entry')
  const hot = hashKey('hot')
  const once = hashKey('once')
  for (let i = 0; i < 12; i++) sketch.increment(hot)
  sketch.increment(once)
  let additions = 13
  let other = 0
  while (sketch.resets === 0) {
    sketch.increment(hashKey(`filler${other++}`))
    additions++
  }
  t.equal(additions, 640, 'the reset comes with the 640th addition')
  t.equal(sketch.frequency(hot), 6, '12 halved')
  t.equal(sketch.frequency(once), 0, 'a single request is forgotten')
  // The next reset comes after half a sample: the additions count is halved too.
  let more = 0
  while (sketch.resets === 1) {
    sketch.increment(hashKey(`more${more++}`))
  }
  t.equal(more, 320)
  t.equal(sketch.frequency(hot), 3)
})

t.test('additions to a saturated key do not hasten aging', async (t) => {
  const sketch = createFrequencySketch({ entries: 16 })
  const hash = hashKey('x')
  for (let i = 0; i < 15; i++) sketch.increment(hash)
  for (let i = 0; i < 10 * sketch.sampleSize; i++) sketch.increment(hash)
  t.equal(sketch.resets, 0)
  t.equal(sketch.frequency(hash), 15)
})

t.test('ensureCapacity widens the rows for a bigger cache and keeps the counts', async (t) => {
  const sketch = createFrequencySketch()
  const a = hashKey('a')
  const b = hashKey('b')
  for (let i = 0; i < 5; i++) sketch.increment(a)
  sketch.increment(b)
  sketch.ensureCapacity(10)
  t.equal(sketch.width, 64, 'still room for 16 entries')
  sketch.ensureCapacity(1000)
  t.equal(sketch.width, 4096)
  t.equal(sketch.sampleSize, 10240)
  t.equal(sketch.frequency(a), 5, 'counts survive the growth')
  t.equal(sketch.frequency(b), 1)
  sketch.increment(b)
  t.equal(sketch.frequency(b), 2, 'and go on from there')
  t.equal(sketch.frequency(hashKey('c')), 0)
  sketch.ensureCapacity(500)
  t.equal(sketch.width, 4096, 'never shrinks')
})

t.test('hashKey spreads keys that differ only in the chunk index', async (t) => {
  const seen = new Set<number>()
  const low = new Set<number>()
  for (let i = 0; i < 4096; i++) {
    const hash = hashKey(`/v1/chunks/track/v1/160/${i}`)
    seen.add(hash)
    low.add(hash & 4095)
  }
  t.equal(seen.size, 4096)
  t.ok(low.size > 2400, `${low.size} distinct low 12 bits of 4096 (a uniform hash gives about 2590)`)
})

t.test('bad options name the option', async (t) => {
  t.throws(() => createFrequencySketch({ entries: 0 }), { name: 'TypeError', message: /entries/ })
  t.throws(() => createFrequencySketch({ sampleFactor: 0 }), { name: 'TypeError', message: /sampleFactor/ })
  t.throws(() => createFrequencySketch({ maxCount: 100 as never }), { name: 'TypeError', message: /maxCount/ })
})
