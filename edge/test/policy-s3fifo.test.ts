import t from 'tap'
import { createLru, createS3Fifo } from '../src/policy/index.js'
import { seeded as prng } from '../../test-support/seeded.js'

// Algorithm 1 of the paper over plain arrays (oldest first), unit sizes.
function s3fifoByArray(capacity: number, trace: string[]): boolean[] {
  type Item = { key: string; freq: number }
  const small: Item[] = []
  const main: Item[] = []
  const ghost: string[] = []
  const smallTarget = capacity * 0.1
  const ghostCapacity = Math.max(1, capacity - smallTarget)
  const evictSmall = (): void => {
    while (small.length > 0) {
      const item = small.shift() as Item
      if (item.freq >= 1) {
        item.freq = 0
        main.push(item)
      } else {
        ghost.push(item.key)
        while (ghost.length > ghostCapacity) ghost.shift()
        return
      }
    }
  }
  const evictMain = (): void => {
    while (main.length > 0) {
      const item = main.shift() as Item
      if (item.freq > 0) {
        item.freq--
        main.push(item)
      } else {
        return
      }
    }
  }
  return trace.map((key) => {
    const found = small.find((i) => i.key === key) ?? main.find((i) => i.key === key)
    if (found !== undefined) {
      found.freq = Math.min(3, found.freq + 1)
      return true
    }
    const g = ghost.indexOf(key)
    if (g >= 0) ghost.splice(g, 1)
    while (small.length + main.length >= capacity) {
      if ((small.length >= smallTarget && small.length > 0) || main.length === 0) evictSmall()
      else evictMain()
    }
    ;(g >= 0 ? main : small).push({ key, freq: 0 })
    return false
  })
}

t.test('one-hit wonders leave through the small queue; hot keys stay in main', async (t) => {
  const p = createS3Fifo(100)
  const lru = createLru(100)
  for (const cache of [p, lru]) {
    for (let i = 0; i < 50; i++) {
      cache.access(`hot${i}`, 1)
      cache.access(`hot${i}`, 1)
    }
  }
  const evicted: string[] = []
  for (let i = 0; i < 1000; i++) {
    evicted.push(...p.access(`scan${i}`, 1).evicted)
    lru.access(`scan${i}`, 1)
  }
  t.equal(evicted.length, 950)
  t.ok(
    evicted.every((key) => key.startsWith('scan')),
    'only scan keys were evicted',
  )
  t.ok(
    Array.from({ length: 50 }, (_, i) => p.where(`hot${i}`)).every((w) => w === 'main'),
    'every hot key moved to main',
  )
  t.equal([...lru.keys()].filter((k) => k.startsWith('hot')).length, 0, 'LRU lost them all')
  t.equal(p.where('scan999'), 'small')
  t.equal(p.where('scan940'), 'ghost', 'recently evicted scan keys are ghosts')
  t.equal(p.where('scan0'), undefined, "the ghost queue is bounded (about main's size)")
})

t.test('a ghost hit goes to main', async (t) => {
  const p = createS3Fifo(10)
  for (let i = 0; i < 11; i++) p.access(`k${i}`, 1)
  t.equal(p.where('k0'), 'ghost')
  const result = p.access('k0', 1)
  t.equal(result.hit, false, 'a ghost is not a hit')
  t.equal(p.where('k0'), 'main')
  t.equal(p.remove('k0'), true)
  t.equal(p.where('k0'), undefined)
})

t.test('remove forgets a ghost too', async (t) => {
  const p = createS3Fifo(10)
  for (let i = 0; i < 11; i++) p.access(`k${i}`, 1)
  t.equal(p.where('k0'), 'ghost')
  t.equal(p.remove('k0'), false, 'not cached')
  p.access('k0', 1)
  t.equal(p.where('k0'), 'small', 'purged, so it starts over in small')
})

// m0 is hit `hits` times in main, then new keys each hit once push main
// through its FIFO; returns the step at which m0 is evicted.
function survival(hits: number): number {
  const p = createS3Fifo(10)
  for (let i = 0; i < 10; i++) p.access(`m${i}`, 1)
  for (let i = 0; i < 9; i++) p.access(`m${i}`, 1)
  p.access('x', 1) // promotes m0..m8 to main, m9 to ghost
  for (let i = 0; i < hits; i++) p.access('m0', 1)
  for (let step = 0; step < 200; step++) {
    p.access(`y${step}`, 1)
    p.access(`y${step}`, 1)
    if (!p.has('m0')) return step
  }
  return -1
}

t.test('frequency counters are capped at 3', async (t) => {
  const one = survival(1)
  const two = survival(2)
  const three = survival(3)
  t.ok(one > 0 && two > one && three > two, `each hit up to 3 buys time: ${one} < ${two} < ${three}`)
  t.equal(survival(4), three, 'a 4th hit buys nothing')
  t.equal(survival(50), three, 'nor does a 50th')
})

t.test("same decisions as the array version of the paper's Algorithm 1", async (t) => {
  for (const capacity of [1, 2, 10, 37, 100]) {
    const rand = prng(capacity * 17)
    const trace = Array.from({ length: 8000 }, () => `k${Math.floor(400 * rand() ** 2.5)}`)
    const p = createS3Fifo(capacity)
    const ours = trace.map((key) => p.access(key, 1).hit)
    t.same(ours, s3fifoByArray(capacity, trace), `capacity ${capacity}`)
  }
})

t.test('byte-aware: the small queue is 10 % of the bytes, not of the objects', async (t) => {
  const p = createS3Fifo(1000)
  p.access('big', 400)
  p.access('big', 400)
  for (let i = 0; i < 6; i++) p.access(`s${i}`, 100)
  // 1000 bytes full; the next insert evicts from S (900 bytes >= 100): big
  // was hit, so it moves to main, then s0 leaves for the ghost queue.
  t.same(p.access('n', 100).evicted, ['s0'])
  t.equal(p.where('big'), 'main')
  t.equal(p.bytes, 1000)
})

t.test('bad options', async (t) => {
  t.throws(() => createS3Fifo(10, { smallRatio: 0 }), { name: 'TypeError', message: /smallRatio/ })
  t.throws(() => createS3Fifo(10, { smallRatio: 1 }), { name: 'TypeError', message: /smallRatio/ })
  t.throws(() => createS3Fifo(10, { promoteAt: 0 }), { name: 'TypeError', message: /promoteAt/ })
  t.throws(() => createS3Fifo(10, { promoteAt: 4 }), { name: 'TypeError', message: /promoteAt/ })
})
