import t from 'tap'
import { createLru, createSieve } from '../src/policy/index.js'
import { seeded as prng } from '../../test-support/seeded.js'

// SIEVE as written in the paper's pseudocode, over a plain array (oldest
// first) for unit-size objects: slow, obviously correct, independent of the
// linked list.
function sieveByArray(capacity: number, trace: string[]): boolean[] {
  const queue: Array<{ key: string; visited: boolean }> = []
  let hand = -1
  return trace.map((key) => {
    const found = queue.find((e) => e.key === key)
    if (found !== undefined) {
      found.visited = true
      return true
    }
    if (queue.length === capacity) {
      let h = hand === -1 ? 0 : hand
      while ((queue[h] as { visited: boolean }).visited) {
        ;(queue[h] as { visited: boolean }).visited = false
        h = h + 1 === queue.length ? 0 : h + 1
      }
      queue.splice(h, 1)
      hand = h < queue.length ? h : -1
    }
    queue.push({ key, visited: false })
    return false
  })
}

t.test('the visited bit keeps a hot key', async (t) => {
  const p = createSieve(4)
  for (const key of ['a', 'b', 'c', 'd']) p.access(key, 1)
  p.access('a', 1)
  t.same(p.access('e', 1).evicted, ['b'], 'the oldest unvisited goes, not the visited a')
  t.equal(p.has('a'), true)
  // The hand stays at c: the next eviction does not revisit a.
  t.same(p.access('f', 1).evicted, ['c'])
  t.equal(p.has('a'), true)
})

t.test('a key hit once survives a one-pass scan that flushes it from LRU', async (t) => {
  const sieve = createSieve(4)
  const lru = createLru(4)
  for (const p of [sieve, lru]) {
    p.access('hot', 1)
    p.access('hot', 1)
    for (let i = 0; i < 4; i++) p.access(`scan${i}`, 1)
  }
  t.equal(sieve.has('hot'), true, 'SIEVE: the visited bit buys one more pass')
  t.equal(lru.has('hot'), false, 'LRU: the scan pushed it out')
  // Unlike CLOCK, which would move hot to the head and drop it one pass
  // later, SIEVE's hand stays among the new objects: a scan never reaches it.
  for (let i = 4; i < 100; i++) sieve.access(`scan${i}`, 1)
  t.equal(sieve.has('hot'), true, 'a long scan evicts only scan keys')
  for (const key of [...sieve.keys()]) if (key !== 'hot') sieve.remove(key)
  for (const key of ['x', 'y', 'z']) sieve.access(key, 1)
  t.same(sieve.access('w', 1).evicted, ['hot'])
  t.equal(sieve.has('hot'), false, 'once the hand wraps to the tail, the cleared bit lets it go')
})

t.test("same decisions as the array version of the paper's pseudocode", async (t) => {
  for (const capacity of [1, 2, 5, 17, 64]) {
    const rand = prng(capacity * 31)
    const trace = Array.from({ length: 8000 }, () => `k${Math.floor(300 * rand() ** 2)}`)
    const p = createSieve(capacity)
    const ours = trace.map((key) => p.access(key, 1).hit)
    t.same(ours, sieveByArray(capacity, trace), `capacity ${capacity}`)
  }
})

t.test('remove of the key under the hand keeps the sweep going', async (t) => {
  const p = createSieve(3)
  for (const key of ['a', 'b', 'c']) p.access(key, 1)
  p.access('a', 1)
  p.access('b', 1)
  t.same(p.access('d', 1).evicted, ['c'], 'hand passes a and b, stops at c')
  p.remove('d')
  p.access('e', 1)
  t.same(p.access('f', 1).evicted, ['a'], 'with a and b cleared, a goes next')
})
