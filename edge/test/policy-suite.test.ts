// One behaviour suite, run against every eviction policy.
import { readdirSync, readFileSync } from 'node:fs'
import t from 'tap'
import { createPolicy, POLICY_NAMES } from '../src/policy/index.js'
import type { AccessResult, EvictionPolicy } from '../src/policy/index.js'
import { seeded as prng } from '../../test-support/seeded.js'

// Skewed keys (a few hot, many cold) with sizes fixed per key, as for chunks.
function randomTrace(seed: number, length: number, keys: number, maxSize: number): Array<[string, number]> {
  const rand = prng(seed)
  const sizes = Array.from({ length: keys }, () => 1 + Math.floor(rand() * maxSize))
  const trace: Array<[string, number]> = []
  for (let i = 0; i < length; i++) {
    const id = Math.floor(keys * rand() ** 3)
    trace.push([`k${id}`, sizes[id] as number])
  }
  return trace
}

// Plays over the edge's chunk paths: interleaved, from chunk 0, most stopping
// early, the last chunk of a track short, some accesses marked read-ahead.
function chunkTrace(seed: number, length: number): Array<[string, number, boolean]> {
  const rand = prng(seed)
  const plays = Array.from({ length: 8 }, () => ({ track: 0, at: 0, end: 0, length: 1 }))
  const trace: Array<[string, number, boolean]> = []
  while (trace.length < length) {
    const play = plays[Math.floor(rand() * plays.length)] as { track: number; at: number; end: number; length: number }
    if (play.at >= play.end) {
      play.track = Math.floor(60 * rand() ** 2)
      play.length = 20 + (play.track % 7)
      play.at = 0
      play.end = rand() < 0.3 ? play.length : 1 + Math.floor(rand() * play.length)
    }
    const index = play.at++
    const size = index === play.length - 1 ? 1 + (play.track % 50) : 64
    trace.push([`/v1/chunks/t${play.track}/v1/160/${index}`, size, false])
    if (rand() < 0.2 && index + 1 < play.length) trace.push([`/v1/chunks/t${play.track}/v1/160/${index + 1}`, index + 2 === play.length ? 1 + (play.track % 50) : 64, true])
  }
  return trace
}

function cachedBytes(policy: EvictionPolicy, sizes: Map<string, number>): number {
  let sum = 0
  for (const key of policy.keys()) sum += sizes.get(key) as number
  return sum
}

for (const name of POLICY_NAMES) {
  t.test(name, async (t) => {
    t.test('a hit after an insert', async (t) => {
      const p = createPolicy(name, 100)
      t.same(p.access('a', 10), { hit: false, stored: true, evicted: [] })
      t.equal(p.access('a', 10).hit, true)
      t.equal(p.has('a'), true)
      t.equal(p.has('b'), false)
      t.equal(p.bytes, 10)
      t.equal(p.count, 1)
    })

    t.test('capacity in bytes is never exceeded, and the books balance', async (t) => {
      const capacity = 1000
      const p = createPolicy(name, capacity)
      const sizes = new Map<string, number>()
      let evictions = 0
      let worst = 0
      let broken = 0
      for (const [key, size] of randomTrace(7, 20000, 400, 120)) {
        sizes.set(key, size)
        const before = p.has(key)
        const result = p.access(key, size)
        if (result.hit !== before) broken++
        if (!p.has(key)) broken++
        for (const gone of result.evicted) {
          evictions++
          if (p.has(gone)) broken++
        }
        worst = Math.max(worst, p.bytes)
        if (p.bytes !== cachedBytes(p, sizes) || p.count !== [...p.keys()].length) broken++
      }
      t.equal(broken, 0, 'hit/has/evicted/bytes/count stay consistent on every access')
      t.ok(worst <= capacity, `peak ${worst} <= ${capacity}`)
      t.ok(worst > capacity * 0.8, 'and the capacity is actually used')
      t.ok(evictions > 1000, 'evictions happen')
    })

    t.test('an object larger than the capacity is not cached and evicts nothing', async (t) => {
      const p = createPolicy(name, 100)
      p.access('a', 40)
      p.access('b', 40)
      t.same(p.access('huge', 101), { hit: false, stored: false, evicted: [] })
      t.equal(p.has('huge'), false)
      t.same([...p.keys()].sort(), ['a', 'b'])
      t.equal(p.access('huge', 101).hit, false, 'and stays a miss')
      t.equal(p.access('exact', 100).stored, true, 'an object of exactly the capacity fits')
      t.equal(p.bytes, 100)
    })

    t.test('eviction makes room for a new object', async (t) => {
      const p = createPolicy(name, 4)
      for (const key of ['a', 'b', 'c', 'd']) p.access(key, 1)
      const result = p.access('e', 1)
      t.equal(result.evicted.length, 1)
      t.equal(p.count, 4)
      t.equal(p.has('e'), true)
      t.equal(p.has(result.evicted[0] as string), false)
      const big = p.access('f', 3)
      t.equal(big.evicted.length, 3, 'a bigger object evicts several')
      t.equal(p.bytes, 4)
    })

    t.test('remove forgets a key', async (t) => {
      const p = createPolicy(name, 10)
      p.access('a', 3)
      p.access('b', 3)
      t.equal(p.remove('a'), true)
      t.equal(p.remove('a'), false)
      t.equal(p.remove('never'), false)
      t.equal(p.has('a'), false)
      t.equal(p.bytes, 3)
      t.equal(p.count, 1)
      t.equal(p.access('a', 3).hit, false, 'a removed key misses')
      // Removing every key, including ones a SIEVE hand or S3-FIFO queue points at.
      for (let i = 0; i < 50; i++) p.access(`x${i}`, 1 + (i % 3))
      for (const key of [...p.keys()]) p.remove(key)
      t.equal(p.count, 0)
      t.equal(p.bytes, 0)
      for (let i = 0; i < 50; i++) p.access(`y${i}`, 1)
      t.equal(p.count, 10, 'still works after being emptied')
    })

    t.test('a changed size is a new object', async (t) => {
      const p = createPolicy(name, 10)
      p.access('a', 3)
      const result = p.access('a', 5)
      t.equal(result.hit, false)
      t.equal(result.stored, true)
      t.equal(p.bytes, 5)
      t.equal(p.count, 1)
      t.equal(p.access('a', 11).stored, false, 'too big now: gone')
      t.equal(p.has('a'), false)
      t.equal(p.bytes, 0)
    })

    t.test('zero-byte objects are cached', async (t) => {
      const p = createPolicy(name, 1)
      for (let i = 0; i < 100; i++) p.access(`z${i}`, 0)
      t.equal(p.bytes, 0)
      t.ok(p.count > 0)
    })

    t.test('deterministic: the same trace gives the same decisions', async (t) => {
      const run = (): AccessResult[] => {
        const p = createPolicy(name, 500)
        return randomTrace(11, 5000, 300, 50).map(([key, size]) => p.access(key, size))
      }
      t.same(run(), run())
    })

    t.test('hit ratio: beats nothing-cached and respects the skew', async (t) => {
      const p = createPolicy(name, 100)
      let hits = 0
      const trace = randomTrace(3, 20000, 1000, 1)
      for (const [key, size] of trace) if (p.access(key, size).hit) hits++
      // 10 % of the keys fit; a cube-skewed trace gives any sane policy far more.
      t.ok(hits / trace.length > 0.3, `hit ratio ${(hits / trace.length).toFixed(3)}`)
    })

    t.test('chunk paths, read-aheads and short last chunks: the books balance', async (t) => {
      const capacity = 2000
      const p = createPolicy(name, capacity)
      const sizes = new Map<string, number>()
      let broken = 0
      let worst = 0
      let hits = 0
      const trace = chunkTrace(5, 20000)
      for (const [key, size, readAhead] of trace) {
        sizes.set(key, size)
        const before = p.has(key)
        const result = p.access(key, size, readAhead)
        if (result.hit !== before) broken++
        // A policy with admission may decline a chunk; stored says which.
        if (p.has(key) !== result.stored) broken++
        for (const gone of result.evicted) if (p.has(gone)) broken++
        if (result.hit && !readAhead) hits++
        worst = Math.max(worst, p.bytes)
        if (p.bytes !== cachedBytes(p, sizes) || p.count !== [...p.keys()].length) broken++
      }
      t.equal(broken, 0)
      t.ok(worst <= capacity && worst > capacity * 0.8, `peak ${worst} of ${capacity}`)
      t.ok(hits > trace.length * 0.05, `${hits} hits of ${trace.length} accesses`)
      for (const key of [...p.keys()]) p.remove(key)
      t.equal(p.bytes, 0)
      t.equal(p.count, 0)
      const again = createPolicy(name, capacity)
      const replay = (policy: EvictionPolicy): string =>
        chunkTrace(5, 3000)
          .map(([key, size, readAhead]) => policy.access(key, size, readAhead).evicted.join())
          .join(';')
      t.equal(replay(again), replay(createPolicy(name, capacity)), 'deterministic')
    })

    t.test('bad arguments', async (t) => {
      t.throws(() => createPolicy(name, 0), TypeError)
      t.throws(() => createPolicy(name, -5), TypeError)
      t.throws(() => createPolicy(name, 1.5), TypeError)
      t.throws(() => createPolicy(name, Number.NaN), TypeError)
      const p = createPolicy(name, 10)
      t.throws(() => p.access('a', -1), RangeError)
      t.throws(() => p.access('a', Number.NaN), RangeError)
      t.throws(() => p.access('a', Number.POSITIVE_INFINITY), RangeError)
      t.equal(p.count, 0, 'nothing stored by a rejected call')
    })
  })
}

t.test('createPolicy refuses an unknown name', async (t) => {
  t.throws(() => createPolicy('arc' as never, 10), { name: 'TypeError', message: /policy must be one of lru, sieve, s3fifo, w-tinylfu, chunk-aware/ })
})

t.test('edge/src policy code stays runtime-neutral (no node: imports, no process)', async (t) => {
  const root = new URL('../src/', import.meta.url)
  const files = [
    ...readdirSync(new URL('policy/', root))
      .filter((f) => f.endsWith('.ts'))
      .map((f) => new URL(`policy/${f}`, root)),
    new URL('memory-cache.ts', root),
  ]
  for (const file of files) {
    const text = readFileSync(file, 'utf8')
    t.notMatch(text, /from ['"]node:|require\(|\bprocess\.|\bBuffer\b/, file.pathname)
  }
})
