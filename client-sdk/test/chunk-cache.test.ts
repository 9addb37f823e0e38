// The listener's chunk cache over a real cache directory: LRU by bytes, and a cache write that
// fails or comes late never reaches the player as an error and never outlives close().

import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import type { Test } from 'tap'
import { chunkKey, createChunkCache } from '../src/cache/chunk-cache.js'
import { createFsStorage } from '../src/cache/fs-storage.js'

async function cacheDir(t: Test): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'chorus-chunk-cache-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  return dir
}

const key = (i: number) => chunkKey('song', 'v1', 160, i)
const bytes = (n: number, fill: number) => new Uint8Array(n).fill(fill)

t.test('least recently used bytes go first, from the index and the disk', async (t) => {
  const dir = await cacheDir(t)
  const cache = await createChunkCache({ storage: createFsStorage(dir), maxBytes: 3000 })
  t.equal(await cache.put(key(0), bytes(1000, 0)), true)
  t.equal(await cache.put(key(1), bytes(1000, 1)), true)
  t.equal(await cache.put(key(2), bytes(1000, 2)), true)
  t.ok(await cache.get(key(0)), 'chunk 0 read: now the most recent')
  t.equal(await cache.put(key(3), bytes(1000, 3)), true)
  t.same([...cache.heldChunks('song', 'v1', 160)].sort(), [0, 2, 3], 'chunk 1, the least recently used, went')
  await new Promise((resolve) => setTimeout(resolve, 50))
  t.same((await readdir(join(dir, 'c/song/v1/160'))).sort(), ['0', '2', '3'], 'and its file with it')
  t.equal(await cache.put(key(9), bytes(4000, 9)), false, 'a chunk larger than the whole cache is not kept')
  t.equal(cache.bytes, 3000)
})

t.test('a chunk on its way to disk is held and read from memory: a replay at once fetches nothing again', async (t) => {
  const dir = await cacheDir(t)
  const fs = createFsStorage(dir)
  let release = () => {}
  const gate = new Promise<void>((resolve) => {
    release = resolve
  })
  const cache = await createChunkCache({ storage: { ...fs, put: async (k, b) => gate.then(() => fs.put(k, b)) }, maxBytes: 1 << 20 })
  const written = cache.put(key(0), bytes(100, 7))
  t.ok(cache.has(key(0)), 'held while the write is in flight')
  t.same([...cache.heldChunks('song', 'v1', 160)], [0], 'in the list of chunks held, which a playback starts from')
  t.same(await cache.get(key(0)), bytes(100, 7), 'and read from memory')
  release()
  t.equal(await written, true)
  t.ok(cache.has(key(0)), 'held once written')
  t.same(await cache.get(key(0)), bytes(100, 7), 'and read from the disk')
  t.same(new Uint8Array(await readFile(join(dir, 'c/song/v1/160/0'))), bytes(100, 7))
})

t.test('a write that fails leaves the chunk uncached, with no error and no leftover file', async (t) => {
  const dir = await cacheDir(t)
  const cache = await createChunkCache({ storage: createFsStorage(dir), maxBytes: 1 << 20 })
  t.equal(await cache.put(key(0), bytes(100, 0)), true)
  // The directory of the track's chunks becomes a file: every later write there fails.
  await rm(join(dir, 'c/song/v1/160'), { recursive: true })
  await writeFile(join(dir, 'c/song/v1/160'), 'not a directory')
  t.equal(await cache.put(key(1), bytes(100, 1)), false, 'the put resolves false rather than rejecting')
  t.notOk(cache.has(key(1)), 'and the chunk is not counted as held')
  t.same([...cache.heldChunks('song', 'v1', 160)], [0], 'nor listed among the chunks held')
  t.same((await readdir(join(dir, 'c/song/v1'))).sort(), ['160'], 'no temporary file is left behind')
})

t.test('close() waits for writes under way, and refuses later ones', async (t) => {
  const dir = await cacheDir(t)
  const cache = await createChunkCache({ storage: createFsStorage(dir), maxBytes: 64 << 20 })
  const big = bytes(16 << 20, 5)
  const writing = cache.put(key(0), big)
  await cache.close()
  const onDisk = await readFile(join(dir, 'c/song/v1/160/0'))
  t.equal(onDisk.length, big.length, 'the write that was under way finished before close() resolved')
  t.equal(await writing, true)
  t.equal(await cache.put(key(1), bytes(10, 1)), false, 'a put after close is refused')
  t.same(await readdir(join(dir, 'c/song/v1/160')), ['0'], 'and writes nothing')
})
