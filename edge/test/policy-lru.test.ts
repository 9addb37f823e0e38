// LRU checked against lru-cache 11, the package a user would reach for.
import { LRUCache } from 'lru-cache'
import t from 'tap'
import { createLru } from '../src/policy/index.js'
import { seeded as prng } from '../../test-support/seeded.js'

t.test('evicts the least recently used', async (t) => {
  const p = createLru(3)
  for (const key of ['a', 'b', 'c']) p.access(key, 1)
  p.access('a', 1)
  t.same(p.access('d', 1).evicted, ['b'])
  t.same(p.access('e', 2).evicted, ['c', 'a'], 'oldest first, as many as needed')
})

t.test('same hits and same contents as lru-cache with maxSize, on variable sizes', async (t) => {
  for (const capacity of [50, 400, 3000]) {
    const rand = prng(capacity)
    const sizes = Array.from({ length: 500 }, () => 1 + Math.floor(rand() * 60))
    const ours = createLru(capacity)
    const theirs = new LRUCache<string, number>({ maxSize: capacity, sizeCalculation: (size) => size })
    let differences = 0
    let hits = 0
    for (let i = 0; i < 30000; i++) {
      const id = Math.floor(500 * rand() ** 2)
      const key = `k${id}`
      const size = sizes[id] as number
      const theirHit = theirs.get(key) !== undefined
      if (!theirHit) theirs.set(key, size)
      const ourHit = ours.access(key, size).hit
      if (ourHit !== theirHit) differences++
      if (ourHit) hits++
    }
    t.equal(differences, 0, `capacity ${capacity}: identical hit sequence (${hits} hits)`)
    t.same([...ours.keys()].sort(), [...theirs.keys()].sort(), `capacity ${capacity}: identical contents`)
    t.equal(ours.bytes, theirs.calculatedSize)
  }
})
