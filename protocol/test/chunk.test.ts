import t from 'tap'
import { chunkCounter, chunkLength, chunkPath, newVersion, parseChunkPath, slugify, CHUNK_PREFIX } from '../index.js'

t.test('chunk paths round-trip and reject anything else', async (t) => {
  const a = { trackId: 'demo-01', version: 'abcd1234', bitrate: 160, index: 12 }
  const path = chunkPath(a)
  t.equal(path, '/v1/chunks/demo-01/abcd1234/160/12')
  t.same(parseChunkPath(path.slice(CHUNK_PREFIX.length)), a)
  for (const bad of [
    'demo-01/abcd1234/160',
    '../x/abcd1234/160/1',
    'demo-01/abcd1234/160/01',
    'demo-01/abcd1234/0160/1',
    'demo-01/ABCD/160/1',
    'demo-01/abcd1234/160/-1',
    'demo-01/abcd1234/160/1/x',
    'demo-01/abcd1234/9999/1',
    'demo-01/abcd1234/160/1e3',
  ]) {
    t.throws(() => parseChunkPath(bad), { code: /invalid_/ }, bad)
  }
})

t.test('the counter block carries the nonce and the byte offset in AES blocks', async (t) => {
  const block = chunkCounter('0102030405060708', 3, 32768)
  t.same([...block.subarray(0, 8)], [1, 2, 3, 4, 5, 6, 7, 8])
  t.equal(new DataView(block.buffer).getBigUint64(8), 3n * 2048n)
  t.equal(chunkLength(100, 32, 3), 4)
  t.equal(chunkLength(100, 32, 4), 0)
})

t.test('ids', async (t) => {
  t.equal(slugify('My Song (live).wav'), 'my-song-live-wav')
  t.equal(slugify('Été à Paris'), 'ete-a-paris')
  t.equal(slugify('///'), 'track')
  const v1 = newVersion(1_000_000, new Uint8Array([1, 2, 3, 4]))
  const v2 = newVersion(2_000_000, new Uint8Array([0, 0, 0, 0]))
  t.ok(v1 < v2, 'versions sort by time')
  t.match(v1, /^[a-z0-9]{4,40}$/)
})
