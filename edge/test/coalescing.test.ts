import t from 'tap'
import { chunkPaths, makeCatalog, signedManifest, startEdge, startProxy, startTestOrigin, until } from '../../test-support/edge.js'

// The proxy parks chosen origin requests until the test releases them, so concurrent requests
// are sure to arrive while the first one's fetch is in flight, however loaded the machine.
const { dataDir } = await makeCatalog(t, [{ trackId: 'song', seconds: 4 }])
const origin = await startTestOrigin(t, dataDir)
const proxy = await startProxy(t, origin.url)
const edge = await startEdge(t, { ORIGIN_URL: proxy.url, ORIGIN_PUBLIC_KEY: origin.keys.publicKey, READ_AHEAD: '2' })
const doc = await signedManifest(origin.url, 'song')
const paths = chunkPaths(doc.manifest)
const expected = new Uint8Array(await (await fetch(`${origin.url}${paths[2]!}`)).arrayBuffer())
const waits = async () => (await edge.stats()).coalescedWaits

t.test('200 concurrent requests for one cold chunk make exactly one origin request', async (t) => {
  const path = paths[2]!
  // Chunk 3 too: the read-ahead this miss starts is the next test's subject.
  proxy.hold = (p) => p === path || p === paths[3]
  const answers = Array.from({ length: 200 }, async () => {
    const res = await edge.get(path)
    return { status: res.status, cache: res.headers.get('x-cache'), bytes: new Uint8Array(await res.arrayBuffer()) }
  })
  await until(async () => proxy.count(path) === 1 && (await waits()) === 199, '199 requests waiting on the first one')
  proxy.release(path)
  const done = await Promise.all(answers)
  t.equal(proxy.count(path), 1, 'one origin request for the chunk')
  t.equal(proxy.count(`/v1/tracks/song/versions/${doc.manifest.version}/manifest`), 1, 'and one for the manifest that verifies it')
  t.ok(
    done.every((a) => a.status === 200),
    'all 200 answered 200',
  )
  t.ok(
    done.every((a) => a.cache === 'MISS'),
    'all from that one origin fetch',
  )
  t.ok(
    done.every((a) => Buffer.from(a.bytes).equals(Buffer.from(expected))),
    'all with the same, right bytes',
  )
  t.equal(await waits(), 199)
})

t.test('demand requests join a read-ahead already in flight', async (t) => {
  // The miss above started read-ahead of chunks 3 and 4; chunk 3's origin request is parked.
  const next = paths[3]!
  await until(() => proxy.count(next) === 1, 'read-ahead of the next chunk to reach the origin')
  const before = await waits()
  const answers = Array.from({ length: 50 }, async () => {
    const res = await edge.get(next)
    await res.arrayBuffer()
    return res.status
  })
  await until(async () => (await waits()) === before + 50, 'the demand requests waiting on the read-ahead')
  proxy.release(next)
  t.ok((await Promise.all(answers)).every((s) => s === 200))
  t.equal(proxy.count(next), 1, 'the read-ahead fetch served them: no second origin request')
  await until(() => proxy.count(paths[4]!) === 1, 'the other read-ahead')
  t.equal(proxy.count(paths[4]!), 1)
})

t.test('200 concurrent requests for a cold current manifest make one origin request', async (t) => {
  const path = '/v1/tracks/song/manifest'
  proxy.hold = (p) => p === path
  const before = await waits()
  const bodies = Array.from({ length: 200 }, async () => (await edge.get(path)).text())
  await until(async () => proxy.count(path) === 1 && (await waits()) === before + 199, '199 requests waiting on the first one')
  proxy.release(path)
  const done = await Promise.all(bodies)
  proxy.hold = undefined
  t.equal(proxy.count(path), 1)
  t.equal(new Set(done).size, 1, 'one document for all')
  t.same(JSON.parse(done[0]!), doc)
})
