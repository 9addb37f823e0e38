import { createHash } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { type ChunkMemory, SLAB_BYTES, createChunkMemory } from '../src/chunk-memory.js'
import { ingestFile } from '../src/ingest.js'
import { loadOriginKeys } from '../src/keys.js'
import { createStore } from '../src/store.js'
import { makeWav, tempDataDir } from '../../test-support/fixtures.js'

const KIB = 1024
const CHUNK = 32 * KIB
const PER_SLAB = SLAB_BYTES / CHUNK
const MASTER = 10 * SLAB_BYTES

/** Reads chunk `i` of master `m` into memory the way the store does: a slot, bytes in, kept. */
function fill(memory: ChunkMemory, m: string, i: number) {
  const slot = memory.slot(m, i, CHUNK, MASTER)
  slot.view.fill(i % 251)
  return slot.keep(`${m}/${i}`, `"etag-${i}"`)
}

t.test('consecutive chunks of a master share one slab; each keeps its own bytes', async (t) => {
  const memory = createChunkMemory(4 * SLAB_BYTES)
  const a = fill(memory, 'm', 0)
  const b = fill(memory, 'm', 1)
  const c = fill(memory, 'm', PER_SLAB)
  t.equal(a.bytes.buffer, b.bytes.buffer, 'chunks 0 and 1 lie in one buffer')
  t.not(a.bytes.buffer, c.bytes.buffer, 'the next slab is another buffer')
  t.equal(a.bytes.byteLength, CHUNK)
  t.ok(a.bytes.every((x) => x === 0) && b.bytes.every((x) => x === 1), 'no chunk overwrote its neighbour')
  t.equal(memory.peek('m/1'), b)
  t.equal(memory.peek('m/1')!.etag, '"etag-1"')
  t.equal(memory.peek('m/2'), undefined, 'a chunk never read is not there')
})

t.test('eviction is by slab, least recently used, and takes its chunks out of the index', async (t) => {
  const memory = createChunkMemory(2 * SLAB_BYTES)
  fill(memory, 'a', 0)
  fill(memory, 'a', 1)
  fill(memory, 'b', 0)
  t.ok(memory.peek('a/0'), 'touching a makes b the least recently used')
  fill(memory, 'c', 0)
  t.ok(memory.peek('a/0') && memory.peek('a/1'), 'a stays')
  t.equal(memory.peek('b/0'), undefined, 'b went')
  t.ok(memory.peek('c/0'))
  t.equal(memory.size, 3)
})

t.test('the last slab and the last chunk of a master are short', async (t) => {
  const memory = createChunkMemory(SLAB_BYTES)
  const byteLength = PER_SLAB * CHUNK + 1000
  const slot = memory.slot('m', PER_SLAB, CHUNK, byteLength)
  t.equal(slot.view.byteLength, 1000)
  t.equal((slot.view.buffer as ArrayBuffer).byteLength >= 1000, true)
  t.equal(slot.keep('m/last', '"x"').bytes.byteLength, 1000)
})

t.test('no budget, or a slab larger than the budget: chunks are served, not kept', async (t) => {
  for (const budget of [0, SLAB_BYTES / 2]) {
    const memory = createChunkMemory(budget)
    const kept = fill(memory, 'm', 3)
    t.equal(kept.bytes.byteLength, CHUNK, `budget ${budget}: the chunk is readable`)
    t.ok(kept.bytes.every((x) => x === 3))
    t.equal(memory.peek('m/3'), undefined, `budget ${budget}: nothing kept`)
    t.equal(memory.size, 0)
  }
})

t.test('a slab evicted while its chunk was being read does not leave the chunk in the index', async (t) => {
  const memory = createChunkMemory(SLAB_BYTES)
  const slow = memory.slot('a', 0, CHUNK, MASTER)
  fill(memory, 'b', 0) // evicts a's slab while a/0 is "in flight"
  slow.view.fill(7)
  const kept = slow.keep('a/0', '"late"')
  t.ok(
    kept.bytes.every((x) => x === 7),
    'the reader still gets its bytes',
  )
  t.equal(memory.peek('a/0'), undefined, 'but they are not indexed under a slab that is gone')
  t.ok(memory.peek('b/0'))
})

t.test('the store with no budget, or room for one track, serves every chunk of several tracks intact, however often slabs turn over', async (t) => {
  const dataDir = await tempDataDir(t)
  const keys = await loadOriginKeys(dataDir)
  const tracks: Array<{ id: string; version: string }> = []
  for (const id of ['one', 'two']) {
    await writeFile(join(dataDir, `${id}.wav`), makeWav(id === 'one' ? 4 : 3))
    const r = await ingestFile(join(dataDir, `${id}.wav`), { trackId: id }, { dataDir, keys, bitrates: [96], chunkSize: 16 * KIB })
    tracks.push({ id, version: r.version })
  }
  // Each master (36-48 KB) is one slab. 0 keeps nothing; 64 KiB holds one track's slab at a time,
  // so reading the tracks in turn evicts the other every time.
  for (const memoryBytes of [0, 64 * KIB]) {
    const store = createStore({ dataDir, memoryBytes })
    let checked = 0
    for (let pass = 0; pass < 2; pass++) {
      for (const { id, version } of tracks) {
        const q = (await store.manifest(id, version))!.doc.manifest.qualities[0]!
        // Out of order and all at once, as many edges would ask.
        const order = Array.from({ length: q.chunkCount }, (_, i) => (i * 7) % q.chunkCount)
        const got = await Promise.all(order.map((i) => store.chunk(id, version, 96, i)))
        got.forEach((c, k) => {
          const i = order[k]!
          if (createHash('sha256').update(c!.bytes).digest('hex') !== q.hashes[i]) t.fail(`${id} chunk ${i} is corrupt at budget ${memoryBytes}`)
          if (c!.etag !== `"${q.hashes[i]}"`) t.fail(`${id} chunk ${i} has the wrong etag`)
          checked++
        })
        const last = (track: { id: string; version: string }) => store.peekChunk(`${track.id}/${track.version}/96/${q.chunkCount - 1}`)
        const other = tracks.find((x) => x.id !== id)!
        if (memoryBytes === 0) t.equal(last({ id, version }), undefined, 'no budget: nothing kept')
        else {
          t.ok(last({ id, version }), `${id} is held after it was read`)
          t.equal(last(other), undefined, `${other.id} made room for it`)
        }
      }
    }
    t.ok(checked >= 14, `budget ${memoryBytes}: ${checked} chunks verified`)
  }
})
