import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { belady, compactTrace, createChunkWorkload, run, zipfExponentFor } from '../cache-policy/index.js'
import type { Trace } from '../cache-policy/index.js'

function prng (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let x = Math.imul(a ^ (a >>> 15), a | 1)
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61)
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}

function unitTrace (keys: number[]): Trace {
  return compactTrace('test', 'test', keys, (id) => String(id), () => 1)
}

// OPT by definition, by brute force, for a cache that may decline to store
// (as the replay's admission filters do): on a miss with a full cache, scan
// ahead for the next use of every cached key and of the missed one, and
// drop the farthest, possibly the missed key itself.
function bruteForceOpt (keys: number[], capacity: number): number {
  const cache = new Set<number>()
  let misses = 0
  keys.forEach((key, i) => {
    if (cache.has(key)) return
    misses++
    cache.add(key)
    if (cache.size <= capacity) return
    let victim = -1
    let farthest = -1
    for (const k of cache) {
      let next = keys.indexOf(k, i + 1)
      if (next === -1) next = Number.POSITIVE_INFINITY
      if (next > farthest || (next === farthest && k === key)) {
        farthest = next
        victim = k
      }
    }
    cache.delete(victim)
  })
  return misses
}

t.test('OPT may decline to cache: one slot, a b a misses twice', async (t) => {
  t.equal(belady(unitTrace([1, 2, 1]), 1).misses, 2, 'b is served without evicting a')
  // The textbook reference string: 9 faults when every missed page must be
  // loaded; 8 when a miss may bypass the cache.
  const refs = [7, 0, 1, 2, 0, 3, 0, 4, 2, 3, 0, 3, 2, 1, 2, 0, 1, 7, 0, 1]
  const result = belady(unitTrace(refs), 3)
  t.equal(result.misses, 8)
  t.equal(bruteForceOpt(refs, 3), 8)
  t.equal(result.exact, true)
})

t.test('OPT equals brute-force Belady on random traces', async (t) => {
  const rand = prng(5)
  for (let round = 0; round < 30; round++) {
    const keys = Array.from({ length: 400 }, () => Math.floor(60 * rand() ** 2))
    const capacity = 1 + Math.floor(rand() * 30)
    t.equal(belady(unitTrace(keys), capacity).misses, bruteForceOpt(keys, capacity), `round ${round}, capacity ${capacity}`)
  }
})

t.test('OPT with variable sizes says it is an approximation', async (t) => {
  const trace = compactTrace('v', 'v', [1, 2, 3, 1, 2, 3], (id) => String(id), (id) => id)
  const result = belady(trace, 4)
  t.equal(result.exact, false)
  t.ok(result.misses >= 3 && result.misses <= 6)
})

t.test('the chunk workload has the shape it claims', async (t) => {
  const w = createChunkWorkload({ seed: 3, tracks: 5000, plays: 6000, listeners: 32 })
  t.ok(Math.abs(w.shape.topPlayShare - 0.88) < 0.02, `top 12% of tracks get ${(w.shape.topPlayShare * 100).toFixed(1)}% of plays`)
  t.ok(w.shape.endedEarlyShare > 0.5, `${(w.shape.endedEarlyShare * 100).toFixed(1)}% of plays end early`)
  let firstChunks = 0
  for (const id of w.requests) if ((w.keyNames[id] as string).endsWith('/0')) firstChunks++
  t.equal(firstChunks, 6000, 'every play starts at chunk 0')
  t.equal(w.requests.length, Math.round(w.shape.meanChunksPerPlay * 6000))
  const again = createChunkWorkload({ seed: 3, tracks: 5000, plays: 6000, listeners: 32 })
  const same = (a: Int32Array, b: Int32Array): boolean => a.length === b.length && a.every((v, i) => v === b[i])
  t.ok(same(again.requests, w.requests), 'seeded: the same seed gives the same trace')
  const other = createChunkWorkload({ seed: 4, tracks: 5000, plays: 6000, listeners: 32 })
  t.notOk(same(other.requests, w.requests), 'and another seed another one')
  const s = zipfExponentFor(5000, 0.12, 0.88)
  t.ok(s > 1 && s < 1.4, `Zipf exponent ${s.toFixed(3)}`)
})

t.test('a quick replay writes sane results', async (t) => {
  const out = t.testdir({})
  await run(['--quick', '--quiet', '--sizes', '0.005,0.05,0.2', '--out', out])
  const json = JSON.parse(readFileSync(join(out, 'cache-policy.json'), 'utf8')) as {
    workloads: Array<{
      name: string
      requests: number
      labels: string[]
      sizes: Array<{ fraction: number, capacityObjects: number, opt: { missRatio: number, exact: boolean }, results: Record<string, { missRatio: number | null }> }>
      summary: { best: string } | null
    }>
  }
  const names = json.workloads.map((w) => w.name)
  t.ok(names.includes('chunks'))
  if (existsSync('/work/shared/data/web07.trace.xz') || process.env.CHORUS_WEB07_TRACE !== undefined) {
    t.ok(names.includes('web07'), 'the web07 trace was replayed')
    t.equal(json.workloads.find((w) => w.name === 'web07')?.requests, 20000, '--quick replays a 20,000-request slice')
  }
  const problems: string[] = []
  for (const w of json.workloads) {
    t.same(w.labels, ['lru', 'sieve', 's3fifo', 'lru+admit2', 'sieve+admit2', 's3fifo+admit2'])
    let previousOpt = 1
    for (const size of w.sizes) {
      if (!size.opt.exact) problems.push(`${w.name}: OPT not exact`)
      if (size.opt.missRatio > previousOpt) problems.push(`${w.name}: OPT grew with size`)
      previousOpt = size.opt.missRatio
      for (const label of w.labels) {
        const ratio = size.results[label]?.missRatio
        if (typeof ratio !== 'number' || ratio < 0 || ratio > 1) problems.push(`${w.name} ${label}: ratio ${String(ratio)}`)
        else if (ratio < size.opt.missRatio) problems.push(`${w.name} ${label} at ${size.fraction}: ${ratio} below OPT ${size.opt.missRatio}`)
      }
    }
    t.ok(w.summary !== null && w.labels.includes(w.summary.best), `${w.name}: a best policy is named`)
    const last = w.sizes[w.sizes.length - 1]
    t.ok(last !== undefined && last.opt.missRatio < w.sizes[0]!.opt.missRatio, `${w.name}: a bigger cache misses less`)
  }
  t.same(problems, [], 'ratios in [0, 1], OPT <= every policy, OPT falls with size')
  const svg = readFileSync(join(out, 'cache-policy.svg'), 'utf8')
  t.match(svg, /^<svg [^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/)
  t.equal((svg.match(/<polyline /g) ?? []).length, json.workloads.length * 7, 'one line per variant and OPT, per workload')
  const md = readFileSync(join(out, 'cache-policy.md'), 'utf8')
  t.match(md, /\| OPT \(Belady\) \|/)
  t.match(md, /lowest mean miss ratio: /)
})

t.test('bad arguments are refused with the option named', async (t) => {
  await t.rejects(run(['--sizes', '2']), { name: 'TypeError', message: /--sizes/ })
  await t.rejects(run(['--policies', 'arc']), { name: 'TypeError', message: /--policies/ })
  await t.rejects(run(['--plays', '0']), { name: 'TypeError', message: /--plays/ })
  await t.rejects(run(['--bogus']), /bogus/)
})
