// The chunk-aware policy's rules: heads over tails, read-ahead first out,
// plays in progress, track-grouped admission, W-TinyLFU for other keys, and
// bounded work per request.
import t from 'tap'
import { chunkIndexOf, createChunkAware, createLru, createWTinyLfu, streamOf } from '../src/policy/index.js'
import type { EvictionPolicy } from '../src/policy/index.js'
import { seeded as prng } from '../../test-support/seeded.js'

const SIZE = 32 * 1024
const chunk = (track: string, index: number): string => `/v1/chunks/${track}/v1/160/${index}`

t.test("chunk keys are the edge's chunk paths; anything else is a plain object", async (t) => {
  t.equal(chunkIndexOf('/v1/chunks/t1/v1/160/0'), 0)
  t.equal(chunkIndexOf('/v1/chunks/abc/2024-v7/320/123'), 123)
  t.equal(streamOf('/v1/chunks/abc/2024-v7/320/123'), '/v1/chunks/abc/2024-v7/320')
  for (const key of [
    '/v1/chunks/t1/v1/160',
    '/v1/chunks/t1/v1/160/01',
    '/v1/chunks/t1//160/3',
    '/v1/chunks/a/b/c/d/5',
    '/v1/chunks/t/v/160/1x',
    '/v1/chunks/t/v/160/',
    '/v1/tracks/t1/versions/v1/manifest',
    'k12',
    '',
    '/v1/chunks/t/v/160/1234567890',
  ]) {
    t.equal(chunkIndexOf(key), -1, JSON.stringify(key))
  }
})

t.test("a track's head is kept over its tail: most plays stop early", async (t) => {
  const capacity = 30
  const ours = createChunkAware(capacity * SIZE)
  const lru = createLru(capacity * SIZE)
  const rand = prng(1)
  const hits = { ours: 0, lru: 0 }
  for (let play = 0; play < 150; play++) {
    const track = `t${play % 3}`
    const end = rand() < 0.7 ? 1 + Math.floor(rand() * 6) : 40
    for (let i = 0; i < end; i++) {
      if (ours.access(chunk(track, i), SIZE).hit) hits.ours++
      if (lru.access(chunk(track, i), SIZE).hit) hits.lru++
    }
  }
  const cached = [...ours.keys()].map((key) => chunkIndexOf(key))
  const heads = cached.filter((i) => i < 6).length
  const tails = cached.filter((i) => i >= 20).length
  t.equal(heads, 18, 'the first 6 chunks of all 3 tracks are cached')
  t.ok(tails < heads, `${tails} chunks from the last half of the tracks`)
  t.ok(hits.ours > hits.lru * 1.5, `${hits.ours} hits against LRU's ${hits.lru}`)
})

t.test('a read-ahead is not a request, and is evicted first once its play has gone quiet', async (t) => {
  const p = createChunkAware(10 * SIZE)
  for (let i = 0; i < 5; i++) p.access(chunk('a', i), SIZE)
  const before = p.expectedNextUse(chunk('a', 6))
  t.same(p.access(chunk('a', 5), SIZE, true), { hit: false, stored: true, evicted: [] })
  p.access(chunk('a', 6), SIZE, true)
  t.equal(p.isPendingReadAhead(chunk('a', 5)), true)
  t.equal(p.stats().pendingReadAheads, 2)
  t.equal(p.expectedNextUse(chunk('a', 6)), before, 'read-aheads teach the model nothing')
  // The play asks for chunk 5: a hit, and from now on an ordinary chunk.
  t.equal(p.access(chunk('a', 5), SIZE).hit, true)
  t.equal(p.isPendingReadAhead(chunk('a', 5)), false)
  t.equal(p.stats().pendingReadAheads, 1)
  // Other plays go on; play a stops. Chunk a/6 is never asked for.
  for (let round = 0; round < 60; round++) for (let i = 0; i < 3; i++) p.access(chunk('b', i), SIZE)
  t.equal(p.count, 10, 'full')
  const result = p.access(chunk('c', 0), SIZE)
  t.same(result.evicted, [chunk('a', 6)], 'the stale read-ahead goes before any chunk a client asked for')
  t.equal(result.stored, true)
})

t.test('a fresh read-ahead, its play still going, is kept like the chunk it is about to be', async (t) => {
  const p = createChunkAware(6 * SIZE)
  for (let round = 0; round < 3; round++) for (let i = 0; i < 4; i++) p.access(chunk('x', i), SIZE)
  p.access(chunk('y', 0), SIZE)
  p.access(chunk('y', 1), SIZE, true)
  t.equal(p.count, 6)
  const result = p.access(chunk('z', 0), SIZE)
  t.notOk(result.evicted.includes(chunk('y', 1)), `evicted ${JSON.stringify(result.evicted)}, not the read-ahead`)
})

t.test('plays in progress make the chunks ahead of them worth more', async (t) => {
  const p = createChunkAware(1000 * SIZE)
  // Two tracks with the same history: 5 plays to the end, one after the other.
  for (const track of ['quiet', 'playing']) {
    for (let play = 0; play < 5; play++) for (let i = 0; i < 20; i++) p.access(chunk(track, i), SIZE)
  }
  for (let i = 0; i < 200; i++) p.access(chunk('other', i % 50), SIZE)
  // A new play of one of them is at chunk 3.
  for (let i = 0; i < 4; i++) p.access(chunk('playing', i), SIZE)
  const quiet = p.expectedNextUse(chunk('quiet', 10)) as number
  const playing = p.expectedNextUse(chunk('playing', 10)) as number
  t.ok(playing < quiet / 3, `chunk 10 expected in ${playing.toFixed(0)} requests, against ${quiet.toFixed(0)} without the play`)
  t.ok((p.expectedNextUse(chunk('playing', 2)) as number) > playing, 'the chunks behind it gain nothing')
  t.equal(p.expectedNextUse('/v1/tracks/x/manifest'), undefined, 'not a chunk')
})

t.test("track-grouped admission: a track's popularity admits its chunks; a one-off play does not displace it", async (t) => {
  const p = createChunkAware(10 * SIZE)
  for (let play = 0; play < 30; play++) for (let i = 0; i < 10; i++) p.access(chunk('hit', i), SIZE)
  t.equal(p.count, 10)
  const once = p.access(chunk('rare', 0), SIZE)
  t.same(once, { hit: false, stored: false, evicted: [] }, 'declined: the cache holds better')
  t.equal(
    [...p.keys()].every((key) => key.includes('/hit/')),
    true,
  )
  // Another track becomes popular through its first chunks; a chunk of it
  // never seen before is admitted on its first request, over the older hit's tail.
  for (let play = 0; play < 60; play++) for (let i = 0; i < 3; i++) p.access(chunk('new', i), SIZE)
  const first = p.access(chunk('new', 3), SIZE)
  t.equal(first.stored, true, `chunk 3 of the new hit is admitted at once (evicting ${JSON.stringify(first.evicted)})`)
  t.equal(
    first.evicted.every((key) => key.includes('/hit/')),
    true,
  )
})

t.test('keys that are not chunks are kept exactly as W-TinyLFU keeps them', async (t) => {
  const rand = prng(9)
  const sizes = Array.from({ length: 400 }, () => 1 + Math.floor(rand() * 60))
  const ours = createChunkAware(2000)
  const theirs = createWTinyLfu(2000)
  let differences = 0
  for (let i = 0; i < 30000; i++) {
    const id = Math.floor(400 * rand() ** 2)
    const a = ours.access(`/v1/tracks/t${id}/manifest`, sizes[id] as number)
    const b = theirs.access(`/v1/tracks/t${id}/manifest`, sizes[id] as number)
    if (a.hit !== b.hit || a.stored !== b.stored || a.evicted.join() !== b.evicted.join()) differences++
  }
  t.equal(differences, 0)
})

t.test('chunks and other objects share the bytes: a chunk expected later makes room for a manifest', async (t) => {
  const p = createChunkAware(10 * SIZE)
  for (let i = 0; i < 10; i++) p.access(chunk('t', i), SIZE)
  const result = p.access('/v1/tracks/t/manifest', 4096)
  t.equal(result.stored, true)
  t.same(result.evicted, [chunk('t', 9)], 'the tail of a track played once')
  t.ok(p.bytes <= 10 * SIZE)
})

// O(1) per request, checked by counting: the unit of work is an estimate of
// a chunk's next use (a few cursors, a few counters); a request makes one for
// itself and one per drawn chunk per eviction, whatever the cache's size.
t.test('bounded work per request, at any cache size', async (t) => {
  for (const capacity of [50, 5000]) {
    const p = createChunkAware(capacity * SIZE)
    const rand = prng(capacity)
    const plays = Array.from({ length: 32 }, () => ({ track: 0, at: 0, end: 0 }))
    let worst = 0
    let requests = 0
    for (let step = 0; step < 100000; step++) {
      const play = plays[Math.floor(rand() * plays.length)] as { track: number; at: number; end: number }
      if (play.at >= play.end) {
        play.track = Math.floor(4000 * rand() ** 3)
        play.at = 0
        play.end = 1 + Math.floor(rand() * 60)
      }
      const before = p.stats().estimates
      const result = p.access(chunk(`t${play.track}`, play.at++), SIZE, rand() < 0.1)
      const used = p.stats().estimates - before
      const bound = 1 + 16 * (result.evicted.length + 1)
      if (used > bound) worst = Math.max(worst, used - bound)
      requests++
    }
    t.equal(worst, 0, `capacity ${capacity}: at most 1 + 16 estimates per eviction on each of ${requests} requests`)
    t.ok(p.stats().streams <= 4096 + p.count, `${p.stats().streams} streams remembered: bounded`)
  }
})

t.test('the streams remembered are bounded, however many tracks go by', async (t) => {
  const p = createChunkAware(100 * SIZE)
  for (let track = 0; track < 20000; track++) p.access(chunk(`t${track}`, 0), SIZE)
  const { streams } = p.stats()
  t.ok(streams <= 4096 + p.count, `${streams} streams for 20,000 tracks and ${p.count} cached chunks`)
})

t.test('seeded: the same seed, the same decisions', async (t) => {
  const run = (seed: number): string => {
    const p = createChunkAware(40 * SIZE, { seed })
    const rand = prng(5)
    const out: string[] = []
    for (let i = 0; i < 5000; i++) out.push(p.access(chunk(`t${Math.floor(50 * rand() ** 2)}`, Math.floor(rand() * 20)), SIZE).evicted.join())
    return out.join(';')
  }
  t.equal(run(1), run(1))
})

t.test('bad options name the option', async (t) => {
  t.throws(() => createChunkAware(100, { samples: 0 }), { name: 'TypeError', message: /samples/ })
  t.throws(() => createChunkAware(100, { samples: 1000 }), { name: 'TypeError', message: /samples/ })
  t.throws(() => createChunkAware(100, { seed: 1.5 }), { name: 'TypeError', message: /seed/ })
  t.throws(() => createChunkAware(100, { tinyLfu: { windowRatio: 2 } }), { name: 'TypeError', message: /windowRatio/ })
  const p: EvictionPolicy = createChunkAware(100)
  t.throws(() => p.access(chunk('t', 0), -1), RangeError)
})
