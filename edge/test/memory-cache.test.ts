import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Miniflare } from 'miniflare'
import t from 'tap'
import { createMemoryCache } from '../src/memory-cache.js'
import type { MemoryCache } from '../src/memory-cache.js'
import { POLICY_NAMES } from '../src/policy/index.js'
import { bundleWorkerScript } from '../../support/worker-bundle.js'

interface Chunk {
  body: Uint8Array
  headers: Record<string, string>
}

const KIB32 = 32 * 1024

function chunk(fill: number): Chunk {
  return { body: new Uint8Array(KIB32).fill(fill), headers: { 'content-type': 'application/octet-stream' } }
}

t.test('bad options: a TypeError naming the option', async (t) => {
  t.throws(() => createMemoryCache(undefined as never), { name: 'TypeError', message: /options/ })
  t.throws(() => createMemoryCache({} as never), { name: 'TypeError', message: /maxBytes/ })
  t.throws(() => createMemoryCache({ maxBytes: 0 }), { name: 'TypeError', message: /maxBytes/ })
  t.throws(() => createMemoryCache({ maxBytes: '1mb' as never }), { name: 'TypeError', message: /maxBytes/ })
  t.throws(() => createMemoryCache({ maxBytes: 1024, policy: 'arc' as never }), { name: 'TypeError', message: /policy must be one of lru, sieve, s3fifo/ })
  t.throws(() => createMemoryCache({ maxBytes: 1024, admitAfter: 0 }), { name: 'TypeError', message: /admitAfter/ })
  t.throws(() => createMemoryCache({ maxBytes: 1024, admitAfter: 2.5 }), { name: 'TypeError', message: /admitAfter/ })
  t.throws(() => createMemoryCache({ maxBytes: 1024, admissionWindow: -1 }), { name: 'TypeError', message: /admissionWindow/ })
  const cache = createMemoryCache<string>({ maxBytes: 1024 })
  t.throws(() => cache.set('k', 'v', -1), { name: 'TypeError', message: /size/ })
  t.throws(() => cache.set('k', 'v', Number.NaN), { name: 'TypeError', message: /size/ })
  t.throws(() => cache.get(42 as never), { name: 'TypeError', message: /key/ })
  t.throws(() => cache.deleteWhere(''), { name: 'TypeError', message: /prefix/ })
  t.throws(() => cache.deleteWhere(7 as never), { name: 'TypeError', message: /prefix|predicate/ })
  t.equal(cache.stats().policy, 'chunk-aware', 'default policy')
})

for (const policy of POLICY_NAMES) {
  t.test(`${policy}: get, set, delete, stats`, async (t) => {
    const cache = createMemoryCache<Chunk>({ maxBytes: 4 * KIB32, policy })
    t.equal(cache.get('t1/0'), undefined)
    t.equal(cache.set('t1/0', chunk(1), KIB32), true)
    t.equal(cache.get('t1/0')?.body[0], 1)
    t.equal(cache.set('t1/0', chunk(2), KIB32), true, 'replacing a value')
    t.equal(cache.peek('t1/0')?.body[0], 2)
    t.equal(cache.set('huge', chunk(3), 5 * KIB32), false, 'bigger than the cache: not stored')
    t.equal(cache.has('huge'), false)
    t.equal(cache.delete('t1/0'), true)
    t.equal(cache.delete('t1/0'), false)
    t.same(cache.stats(), {
      policy,
      maxBytes: 4 * KIB32,
      entries: 0,
      bytes: 0,
      hits: 1,
      misses: 1,
      admitted: 2,
      rejected: 1,
      evictions: 0,
    })
  })

  t.test(`${policy}: bytes stay within maxBytes and evicted values are dropped`, async (t) => {
    const cache = createMemoryCache<Chunk>({ maxBytes: 10 * KIB32 + 100, policy })
    let over = 0
    for (let i = 0; i < 200; i++) {
      const key = `t${i % 37}/${i % 5}`
      if (cache.get(key) === undefined) cache.set(key, chunk(i % 256), KIB32 - (i % 3))
      const { bytes, entries } = cache.stats()
      if (bytes > 10 * KIB32 + 100 || entries > 10) over++
    }
    t.equal(over, 0)
    const stats = cache.stats()
    t.ok(stats.evictions > 0, `${stats.evictions} evictions`)
    t.equal(stats.admitted - stats.evictions, stats.entries, 'every admitted value is either held or evicted')
    let held = 0
    for (let i = 0; i < 37; i++) for (let c = 0; c < 5; c++) if (cache.peek(`t${i}/${c}`) !== undefined) held++
    t.equal(held, stats.entries, 'no evicted value lingers')
  })

  t.test(`${policy}: deleteWhere purges a whole track`, async (t) => {
    const cache = createMemoryCache<Chunk>({ maxBytes: 100 * KIB32, policy })
    for (let c = 0; c < 10; c++) {
      cache.set(`trackA/160/${c}`, chunk(c), KIB32)
      cache.set(`trackB/160/${c}`, chunk(c), KIB32)
    }
    t.equal(cache.deleteWhere('trackA/'), 10)
    t.equal(cache.stats().entries, 10)
    t.equal(cache.has('trackA/160/3'), false)
    t.equal(cache.has('trackB/160/3'), true)
    t.equal(
      cache.deleteWhere((key, value) => key.startsWith('trackB/') && (value.body[0] as number) % 2 === 0),
      5,
    )
    t.equal(cache.stats().bytes, 5 * KIB32)
    t.equal(cache.set('trackA/160/3', chunk(9), KIB32), true, 'a purged key can come back')
  })
}

t.test('admitAfter=2: a chunk is kept from its second miss on', async (t) => {
  const cache = createMemoryCache<Chunk>({ maxBytes: 10 * KIB32, admitAfter: 2 })
  t.equal(cache.set('t/0', chunk(1), KIB32), false)
  t.equal(cache.get('t/0'), undefined)
  t.equal(cache.set('t/0', chunk(1), KIB32), true)
  t.equal(cache.get('t/0')?.body[0], 1)
  t.equal(cache.set('t/0', chunk(2), KIB32), true, 'replacing a cached value needs no new admission')
  t.equal(cache.stats().rejected, 1)
  cache.clear()
  t.equal(cache.stats().entries, 0)
  t.equal(cache.set('t/0', chunk(1), KIB32), false, 'clear() forgets the counts too')
})

t.test('admitAfter keeps one-time chunks from pushing out popular ones', async (t) => {
  const plain = createMemoryCache<Chunk>({ maxBytes: 20 * KIB32, policy: 'lru' })
  const guarded = createMemoryCache<Chunk>({ maxBytes: 20 * KIB32, policy: 'lru', admitAfter: 2 })
  const body = chunk(0)
  const play = (cache: MemoryCache<Chunk>, key: string): void => {
    if (cache.get(key) === undefined) cache.set(key, body, KIB32)
  }
  for (let round = 0; round < 30; round++) {
    for (let c = 0; c < 10; c++) play(plain, `hit/${c}`)
    for (let c = 0; c < 10; c++) play(guarded, `hit/${c}`)
    for (let c = 0; c < 15; c++) play(plain, `once/${round}/${c}`)
    for (let c = 0; c < 15; c++) play(guarded, `once/${round}/${c}`)
  }
  const a = plain.stats()
  const b = guarded.stats()
  t.ok(b.hits > a.hits, `hits with admission ${b.hits} > without ${a.hits}`)
})

// The Worker that imports this code later runs in workerd; check now that
// the memory cache and its policies load and behave the same there.
t.test('runs unchanged in workerd (Miniflare), with the same results as in Node', async (t) => {
  // Bundled as wrangler would (esbuild): the policies import protocol/, outside edge/src.
  const dir = mkdtempSync(join(tmpdir(), 'chorus-memory-cache-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const memoryCache = fileURLToPath(new URL('../src/memory-cache.ts', import.meta.url))
  const exercise = `
    export function exercise (createMemoryCache, policies) {
      const out = {}
      for (const policy of policies) {
        const cache = createMemoryCache({ maxBytes: 50 * 32768, policy, admitAfter: 2 })
        let x = 12345
        for (let i = 0; i < 20000; i++) {
          x = (Math.imul(x, 1103515245) + 12345) >>> 0
          const track = Math.floor(((x >>> 8) / 16777216) ** 3 * 200)
          const key = 'track' + track + '/160/' + (i % 7)
          if (cache.get(key) === undefined) cache.set(key, { body: new Uint8Array(16) }, 32768)
        }
        cache.deleteWhere('track0/')
        out[policy] = cache.stats()
      }
      return out
    }`
  const worker = `
    import { createMemoryCache } from ${JSON.stringify(memoryCache)}
    import { exercise } from './exercise.js'
    export default {
      async fetch () {
        return Response.json(exercise(createMemoryCache, ${JSON.stringify(POLICY_NAMES)}))
      }
    }`
  writeFileSync(join(dir, 'exercise.js'), exercise)
  writeFileSync(join(dir, 'worker.js'), worker)
  const script = await bundleWorkerScript(join(dir, 'worker.js'), join(dir, 'bundle.js'))
  const mf = new Miniflare({ modules: true, scriptPath: script, modulesRoot: dir, compatibilityDate: '2025-01-01' })
  try {
    const response = await mf.dispatchFetch('http://localhost/')
    const inWorkerd = (await response.json()) as Record<string, unknown>
    const { exercise: inNode } = (await import(`data:text/javascript,${encodeURIComponent(exercise)}`)) as {
      exercise: (create: typeof createMemoryCache, policies: readonly string[]) => Record<string, unknown>
    }
    t.same(inWorkerd, JSON.parse(JSON.stringify(inNode(createMemoryCache, POLICY_NAMES))))
    t.ok(
      Object.values(inWorkerd).every((s) => (s as { hits: number }).hits > 0),
      'and it did cache',
    )
  } finally {
    await mf.dispose()
  }
})
