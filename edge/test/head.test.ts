import t from 'tap'
import { chunkMatches, chunkPath, decodeHead, headChunkCount, importManifestPublicKey, verifySignedManifest } from '../../protocol/index.js'
import { inCacheApi, makeCatalog, signedManifest, startEdge, startProxy, startTestOrigin, until } from '../../test-support/edge.js'

// A track's head at the edge (the real Worker in workerd): the current manifest and the chunks of
// the first audio in one answer. A cold edge asks the origin for the whole head in one trip and
// keeps its manifest and chunks under their own keys, each verified; a warm one makes it of what
// its tiers hold. What the origin sends is checked as for any chunk: a flipped byte is never
// served or kept.
const { dataDir } = await makeCatalog(t, [{ trackId: 'song', seconds: 4 }])
const origin = await startTestOrigin(t, dataDir)
const proxy = await startProxy(t, origin.url)
const edge = await startEdge(t, { ORIGIN_URL: proxy.url, ORIGIN_PUBLIC_KEY: origin.keys.publicKey, READ_AHEAD: '0' })
const doc = await signedManifest(origin.url, 'song')
const verifier = await importManifestPublicKey(origin.keys.publicKey)

t.test('a cold edge takes the head from the origin in one trip, then serves it from its tiers', async (t) => {
  const first = await edge.get('/v1/tracks/song/head?kbps=96')
  t.equal(first.status, 200)
  t.equal(first.headers.get('x-cache'), 'MISS')
  t.equal(proxy.count('/v1/tracks/song/head?kbps=96'), 1, 'one trip to the origin for the whole head')
  t.equal(proxy.count('/v1/tracks/song/manifest') + proxy.countPrefix('/v1/chunks/song/'), 0, 'not the manifest and then its chunk')
  t.match(first.headers.get('cache-control'), /^public, max-age=\d+$/)
  const head = decodeHead(new Uint8Array(await first.arrayBuffer()))
  const manifest = await verifySignedManifest(head.manifest, verifier)
  t.equal(manifest.version, doc.manifest.version)
  const pinned = await edge.get(`/v1/tracks/song/versions/${manifest.version}/manifest`)
  t.equal(pinned.headers.get('x-cache'), 'HIT-MEMORY', 'its manifest is kept as if fetched alone')
  await pinned.arrayBuffer()
  t.equal(head.bitrate, 96)
  const q = manifest.qualities.find((x) => x.bitrate === 96)!
  t.equal(head.chunks.length, headChunkCount(q))
  for (const [i, c] of head.chunks.entries()) t.ok(await chunkMatches(c, q.hashes[i]!), `chunk ${i} verifies`)
  t.ok(await inCacheApi(edge, chunkPath({ trackId: 'song', version: manifest.version, bitrate: 96, index: 0 })), 'the chunk is in the Cache API, under its own immutable URL')

  const asked = proxy.seen.size
  const again = await edge.get('/v1/tracks/song/head?kbps=96')
  t.equal(again.headers.get('x-cache'), 'HIT-MEMORY')
  t.same(Buffer.from(await again.arrayBuffer()), Buffer.from(await (await edge.get('/v1/tracks/song/head?kbps=96')).arrayBuffer()))
  t.equal(proxy.seen.size, asked, 'nothing more asked of the origin')
  const chunk = await edge.get(chunkPath({ trackId: 'song', version: manifest.version, bitrate: 96, index: 0 }))
  t.equal(chunk.headers.get('x-cache'), 'HIT-MEMORY', 'the chunk request that follows a head is a hit')
  await chunk.arrayBuffer()
  t.equal((await edge.get('/v1/tracks/song/head?kbps=96', { headers: { 'if-none-match': again.headers.get('etag')! } })).status, 304)
})

t.test('bad input and unknown tracks: JSON errors', async (t) => {
  const bad = await edge.get('/v1/tracks/song/head?kbps=1000')
  t.equal(bad.status, 400)
  t.match(await bad.json(), { error: { code: 'bad_request' } })
  const none = await edge.get('/v1/tracks/nope/head')
  t.equal(none.status, 404)
  t.match(await none.json(), { error: { code: 'track_not_found' } })
  const post = await edge.get('/v1/tracks/song/head', { method: 'POST' })
  t.equal(post.status, 405)
  await post.arrayBuffer()
})

t.test('a head the origin corrupts is not served, and nothing of it is kept', async (t) => {
  const other = await startEdge(t, { ORIGIN_URL: proxy.url, ORIGIN_PUBLIC_KEY: origin.keys.publicKey, READ_AHEAD: '0', MEMORY_CACHE_MB: '0' })
  proxy.corrupt = (path) => path.startsWith('/v1/tracks/song/head')
  const res = await other.get('/v1/tracks/song/head?kbps=96')
  t.equal(res.status, 502)
  t.match(await res.json(), { error: { code: 'integrity_failure' } })
  proxy.corrupt = undefined
  const again = await other.get('/v1/tracks/song/head?kbps=96')
  t.equal(again.status, 200)
  const head = decodeHead(new Uint8Array(await again.arrayBuffer()))
  const q = (await verifySignedManifest(head.manifest, verifier)).qualities.find((x) => x.bitrate === 96)!
  for (const [i, c] of head.chunks.entries()) t.ok(await chunkMatches(c, q.hashes[i]!), `chunk ${i} verifies: the bad copy was not kept`)
})

t.test('a head whose manifest is past its TTL is served at once while the manifest is refreshed behind it', async (t) => {
  const short = await startEdge(t, { ORIGIN_URL: proxy.url, ORIGIN_PUBLIC_KEY: origin.keys.publicKey, READ_AHEAD: '0', MANIFEST_TTL_SEC: '1' })
  await (await short.get('/v1/tracks/song/head')).arrayBuffer()
  // Past two TTLs: the default window (STALE_WHILE_REVALIDATE_SEC, a week) still covers it.
  await new Promise((resolve) => setTimeout(resolve, 2100))
  const manifests = proxy.count('/v1/tracks/song/manifest')
  const stale = await short.get('/v1/tracks/song/head')
  t.equal(stale.status, 200)
  t.equal(stale.headers.get('cache-control'), 'no-cache', 'served while revalidated: no one else keeps it')
  await stale.arrayBuffer()
  await until(() => proxy.count('/v1/tracks/song/manifest') === manifests + 1, 'the manifest to be refreshed behind the answer')
  t.pass('the manifest was refreshed from the origin behind the answer')
})

t.test('past its TTL and the revalidate window, a head waits for the origin', async (t) => {
  const strict = await startEdge(t, { ORIGIN_URL: proxy.url, ORIGIN_PUBLIC_KEY: origin.keys.publicKey, READ_AHEAD: '0', MANIFEST_TTL_SEC: '1', STALE_WHILE_REVALIDATE_SEC: '0' })
  await (await strict.get('/v1/tracks/song/head')).arrayBuffer()
  await new Promise((resolve) => setTimeout(resolve, 1100))
  const heads = proxy.count('/v1/tracks/song/head')
  const late = await strict.get('/v1/tracks/song/head')
  t.equal(late.status, 200)
  t.equal(late.headers.get('x-cache'), 'MISS', 'the head came from upstream, not from the manifest held')
  t.match(late.headers.get('cache-control'), /^public, max-age=\d+$/, 'fresh: not served while revalidated')
  t.equal(proxy.count('/v1/tracks/song/head'), heads + 1, 'one trip to the origin before the answer')
  await late.arrayBuffer()
})

t.test("the Cache API keeps a current manifest's copy for the revalidate window, not only the stale window", async (t) => {
  // STALE_WINDOW_SEC 0: before, the copy's max-age was the TTL alone, and a new isolate (memory
  // empty) found nothing to serve the head from. Beside it, an edge with both windows at 0.
  const long = await startEdge(t, { ORIGIN_URL: proxy.url, ORIGIN_PUBLIC_KEY: origin.keys.publicKey, READ_AHEAD: '0', MANIFEST_TTL_SEC: '1', STALE_WINDOW_SEC: '0' })
  const none = await startEdge(t, { ORIGIN_URL: proxy.url, ORIGIN_PUBLIC_KEY: origin.keys.publicKey, READ_AHEAD: '0', MANIFEST_TTL_SEC: '1', STALE_WINDOW_SEC: '0', STALE_WHILE_REVALIDATE_SEC: '0' })
  await (await long.get('/v1/tracks/song/head')).arrayBuffer()
  await (await none.get('/v1/tracks/song/head')).arrayBuffer()
  t.ok(await inCacheApi(long, '/v1/tracks/song/manifest'), 'kept as the head arrived')
  t.ok(await inCacheApi(none, '/v1/tracks/song/manifest'), 'kept as the head arrived (no windows)')
  await new Promise((resolve) => setTimeout(resolve, 2100))
  t.ok(await inCacheApi(long, '/v1/tracks/song/manifest'), 'still held past TTL + STALE_WINDOW_SEC, inside STALE_WHILE_REVALIDATE_SEC')
  t.notOk(await inCacheApi(none, '/v1/tracks/song/manifest'), 'with no window, gone after its TTL')
  const stale = await long.get('/v1/tracks/song/head')
  t.equal(stale.status, 200)
  t.equal(stale.headers.get('cache-control'), 'no-cache', 'served from the copy held, while it is refreshed')
  await stale.arrayBuffer()
})
