import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { belady, compactTrace, createChunkWorkload, loadInt32Trace, run, WEB07_TRACE, zipfExponentFor } from '../cache-policy/index.js'
import type { Trace } from '../cache-policy/index.js'
import { seeded as prng } from '../../test-support/seeded.js'

const LABELS = ['lru', 'sieve', 's3fifo', 'w-tinylfu', 'chunk-aware', 'lru+admit2', 'sieve+admit2', 's3fifo+admit2', 'w-tinylfu+admit2', 'chunk-aware+admit2']

interface Results {
  goals: string[]
  workloads: Array<{
    name: string
    requests: number
    objectBytes: number | null
    labels: string[]
    sizes: Array<{
      fraction: number
      capacityObjects: number
      opt: { missRatio: number; byteMissRatio: number; exact: boolean }
      results: Record<string, { missRatio: number | null; byteMissRatio: number | null; requestsPerSecond: number | null }>
    }>
    summary: { best: string } | null
  }>
}

/** A trace file in the cache2k format: big-endian int32 keys. */
function writeInt32Trace(file: string, keys: number[]): void {
  const bytes = Buffer.alloc(keys.length * 4)
  keys.forEach((key, i) => {
    bytes.writeInt32BE(key, i * 4)
  })
  writeFileSync(file, bytes)
}

function unitTrace(keys: number[]): Trace {
  return compactTrace(
    'test',
    'test',
    keys,
    (id) => String(id),
    () => 1,
  )
}

// OPT by definition, by brute force, for a cache that may decline to store
// (as the replay's admission filters do): on a miss with a full cache, scan
// ahead for the next use of every cached key and of the missed one, and
// drop the farthest, possibly the missed key itself.
function bruteForceOpt(keys: number[], capacity: number): number {
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
  const trace = compactTrace(
    'v',
    'v',
    [1, 2, 3, 1, 2, 3],
    (id) => String(id),
    (id) => id,
  )
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

t.test('the mixed chunk workload has manifests, init segments and short last chunks', async (t) => {
  const uniform = createChunkWorkload({ seed: 2, tracks: 300, plays: 400, listeners: 8 })
  const w = createChunkWorkload({ seed: 2, tracks: 300, plays: 400, listeners: 8, objectSizes: 'mixed' })
  const sizeOf = (pattern: RegExp): number[] => w.keyNames.flatMap((name, id) => (pattern.test(name) ? [w.sizes[id] as number] : []))
  const manifests = sizeOf(/\/manifest$/)
  const inits = sizeOf(/\/init\/160$/)
  const chunks = sizeOf(/^\/v1\/chunks\//)
  t.ok(manifests.length > 0 && manifests.every((b) => b >= 1024 + 66 * 150 && b <= 1024 + 66 * 250), `${manifests.length} manifests of 10-17 KiB`)
  t.ok(inits.length > 0 && inits.length < manifests.length && inits.every((b) => b >= 600 && b <= 1200), `${inits.length} init segments (AAC tracks only)`)
  t.ok(chunks.some((b) => b < 32768) && chunks.filter((b) => b < 32768).length < chunks.length / 20, 'a few short (last) chunks')
  let manifestRequests = 0
  for (const id of w.requests) if ((w.keyNames[id] as string).endsWith('/manifest')) manifestRequests++
  t.equal(manifestRequests, 400, 'a manifest request per play')
  t.equal(w.requests.length - manifestRequests - w.requests.filter((id) => (w.keyNames[id] as string).includes('/init/')).length, uniform.requests.length, 'the same plays as the uniform workload')
})

t.test('web07 travels with the repository and is found from any working directory', async (t) => {
  t.ok(existsSync(WEB07_TRACE), WEB07_TRACE)
  t.ok(existsSync(new URL('../data/web07.LICENSE.txt', import.meta.url)), 'with its licence')
  const dir = t.testdir({})
  const cwd = process.cwd()
  process.chdir(dir)
  t.teardown(() => process.chdir(cwd))
  await run(['--quiet', '--workloads', 'web07', '--limit', '5000', '--sizes', '0.01,0.1', '--policies', 'lru', '--admit', '1', '--out', 'out'])
  const json = JSON.parse(readFileSync(join(dir, 'out', 'cache-policy.json'), 'utf8')) as Results
  t.equal(json.workloads[0]?.name, 'web07')
  t.equal(json.workloads[0]?.requests, 5000)
})

t.test('a quick replay writes sane results for every policy, with and without admission', async (t) => {
  const out = t.testdir({})
  await run(['--quick', '--quiet', '--sizes', '0.005,0.05,0.2', '--out', out])
  const json = JSON.parse(readFileSync(join(out, 'cache-policy.json'), 'utf8')) as Results
  t.same(
    json.workloads.map((w) => w.name),
    ['web07', 'chunks', 'chunks-mixed'],
  )
  t.equal(json.workloads[0]?.requests, 20000, '--quick replays a 20,000-request slice of web07')
  const problems: string[] = []
  for (const w of json.workloads) {
    t.same(w.labels, LABELS)
    const exact = w.objectBytes !== null
    let previousOpt = 1
    for (const size of w.sizes) {
      if (size.opt.exact !== exact) problems.push(`${w.name}: OPT exact ${size.opt.exact}`)
      if (size.opt.missRatio > previousOpt) problems.push(`${w.name}: OPT grew with size`)
      previousOpt = size.opt.missRatio
      for (const label of w.labels) {
        const cell = size.results[label]
        const ratio = cell?.missRatio
        const bytes = cell?.byteMissRatio
        if (typeof ratio !== 'number' || ratio < 0 || ratio > 1) problems.push(`${w.name} ${label}: ratio ${String(ratio)}`)
        else if (exact && ratio < size.opt.missRatio) problems.push(`${w.name} ${label} at ${size.fraction}: ${ratio} below OPT ${size.opt.missRatio}`)
        if (typeof bytes !== 'number' || bytes < 0 || bytes > 1) problems.push(`${w.name} ${label}: byte ratio ${String(bytes)}`)
        else if (exact && Math.abs(bytes - (ratio as number)) > 1e-12) problems.push(`${w.name} ${label}: equal sizes, yet byte ratio ${bytes} != ${String(ratio)}`)
        if (!((cell?.requestsPerSecond ?? 0) > 0)) problems.push(`${w.name} ${label}: no speed`)
      }
    }
    t.ok(w.summary !== null && w.labels.includes(w.summary.best), `${w.name}: a best policy is named`)
    const last = w.sizes[w.sizes.length - 1]
    t.ok(last !== undefined && last.opt.missRatio < w.sizes[0]!.opt.missRatio, `${w.name}: a bigger cache misses less`)
  }
  t.same(problems, [], 'ratios in [0, 1], byte ratio = ratio for equal sizes, OPT <= every policy where exact, OPT falls with size')
  const mixed = json.workloads[2]!
  t.ok(
    mixed.sizes.some((s) => s.results.lru!.byteMissRatio !== s.results.lru!.missRatio),
    'mixed sizes: byte and object ratios differ',
  )
  t.match(json.goals.join('\n'), /chunks: chunk-aware ahead of w-tinylfu at every size/)
  t.match(json.goals.join('\n'), /web07: chunk-aware/)
  const svg = readFileSync(join(out, 'cache-policy.svg'), 'utf8')
  t.match(svg, /^<svg [^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/)
  t.equal((svg.match(/<polyline /g) ?? []).length, 4 * 11, 'a panel per workload, two for mixed sizes (bytes too); a line per variant and OPT')
  const md = readFileSync(join(out, 'cache-policy.md'), 'utf8')
  t.match(md, /\| OPT \(Belady\) \|/)
  t.match(md, /Byte miss ratio:/)
  t.match(md, /Points above OPT/)
  t.match(md, /## Goals/)
  t.match(md, /lowest mean miss ratio: /)
})

t.test('--trace replays any file of big-endian int32 keys, raw or xz-compressed', async (t) => {
  const dir = t.testdir({})
  // A loop longer than the cache: LRU never hits, W-TinyLFU keeps part of it.
  const keys = Array.from({ length: 30000 }, (_, i) => 1000 + (i % 3000))
  const raw = join(dir, 'loop.trace')
  writeInt32Trace(raw, keys)
  const loaded = await loadInt32Trace(raw, { name: 'loop', description: '', objectBytes: 1 })
  t.equal(loaded.requests.length, 30000)
  t.equal(loaded.keyNames[0], '1000')
  const files = [raw]
  if (spawnSync('xz', ['-k', raw]).status === 0) files.push(`${raw}.xz`)
  else t.comment('no xz here: the compressed form is covered by web07')
  for (const file of files) {
    const out = join(dir, `out-${files.indexOf(file)}`)
    await run(['--quiet', '--workloads', 'none', '--trace', file, '--sizes', '0.5', '--policies', 'lru,w-tinylfu', '--admit', '1', '--out', out])
    const json = JSON.parse(readFileSync(join(out, 'cache-policy.json'), 'utf8')) as Results
    const w = json.workloads[0]!
    t.equal(w.name, 'loop')
    t.equal(w.requests, 30000)
    const row = w.sizes[0]!
    t.equal(row.results.lru!.missRatio, 1, 'LRU misses every request of the loop')
    t.ok((row.results['w-tinylfu']!.missRatio as number) < 0.7, `W-TinyLFU ${row.results['w-tinylfu']!.missRatio}`)
  }
  await t.rejects(run(['--quiet', '--workloads', 'none', '--trace', join(dir, 'missing.trace'), '--out', dir]), /not found/)
})

t.test('bad arguments are refused with the option named', async (t) => {
  await t.rejects(run(['--sizes', '2']), { name: 'UsageError', message: /--sizes/ })
  await t.rejects(run(['--policies', 'arc']), { name: 'UsageError', message: /--policies/ })
  await t.rejects(run(['--plays', '0']), { name: 'UsageError', message: /--plays/ })
  await t.rejects(run(['--workloads', 'web08']), { name: 'UsageError', message: /--workloads/ })
  await t.rejects(run(['--bogus']), /bogus/)
})
