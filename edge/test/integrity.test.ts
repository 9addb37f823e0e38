import { Response as MiniflareResponse } from 'miniflare'
import t from 'tap'
import { chunkPaths, inCacheApi, makeCatalog, signedManifest, startEdge, startProxy, startTestOrigin, until } from '../../test-support/edge.js'

// A proxy between the edge and a healthy origin flips one byte of chosen answers: the origin
// (or the network) gone bad, as the edge sees it.
const { dataDir } = await makeCatalog(t, [
  { trackId: 'song', seconds: 3 },
  { trackId: 'other', seconds: 2 },
])
const origin = await startTestOrigin(t, dataDir)
const proxy = await startProxy(t, origin.url)
const edge = await startEdge(t, { ORIGIN_URL: proxy.url, ORIGIN_PUBLIC_KEY: origin.keys.publicKey, READ_AHEAD: '0' })
const song = await signedManifest(origin.url, 'song')
const other = await signedManifest(origin.url, 'other')
const paths = chunkPaths(song.manifest)

interface ErrorJson {
  error: { code: string; message: string }
}

t.test('a chunk with one flipped byte is refused with a 502, counted, and cached nowhere', async (t) => {
  const path = paths[1]!
  proxy.corrupt = (p) => p === path
  const answers = await Promise.all(Array.from({ length: 20 }, () => edge.get(path)))
  for (const res of answers) {
    t.equal(res.status, 502)
    t.match(res.headers.get('content-type'), /application\/json/)
    const body = (await res.json()) as ErrorJson
    t.equal(body.error.code, 'integrity_failure')
    t.match(body.error.message, /does not match its signed manifest/)
  }
  t.equal(proxy.count(path), 1, 'concurrent requests shared the one bad fetch')
  let s = await edge.stats()
  t.equal(s.integrityFailures.chunk, 1, 'counted once, for the one bad answer')
  t.notOk(await inCacheApi(edge, path), 'not in the Cache API')
  t.equal(s.memory?.entries, 0, 'not in memory')

  const again = await edge.get(path)
  t.equal(again.status, 502, 'still refused: nothing bad was kept, so the edge asked again')
  await again.arrayBuffer()
  t.equal(proxy.count(path), 2)
  s = await edge.stats()
  t.equal(s.integrityFailures.chunk, 2)

  proxy.corrupt = undefined
  const good = await edge.get(path)
  t.equal(good.status, 200)
  t.equal(good.headers.get('x-cache'), 'MISS')
  t.same(new Uint8Array(await good.arrayBuffer()), new Uint8Array(await (await fetch(`${origin.url}${path}`)).arrayBuffer()))
  const hit = await edge.get(path)
  t.equal(hit.headers.get('x-cache'), 'HIT-MEMORY')
  await hit.arrayBuffer()
})

t.test('a manifest with one flipped byte fails its signature: 502, counted, not cached', async (t) => {
  proxy.corrupt = (p) => p === '/v1/tracks/song/manifest'
  const res = await edge.get('/v1/tracks/song/manifest')
  t.equal(res.status, 502)
  const body = (await res.json()) as ErrorJson
  t.equal(body.error.code, 'integrity_failure')
  t.match(body.error.message, /failed verification/)
  t.equal((await edge.stats()).integrityFailures.manifest, 1)
  t.notOk(await inCacheApi(edge, '/v1/tracks/song/manifest'))
  const again = await edge.get('/v1/tracks/song/manifest')
  t.equal(again.status, 502)
  await again.arrayBuffer()
  t.equal(proxy.count('/v1/tracks/song/manifest'), 2, 'asked again: the bad copy was not kept')
  proxy.corrupt = undefined
  const good = await edge.get('/v1/tracks/song/manifest')
  t.equal(good.status, 200)
  t.same(await good.json(), song)
})

t.test('a chunk whose manifest arrives corrupted is not served or cached either', async (t) => {
  const pinned = `/v1/tracks/other/versions/${other.manifest.version}/manifest`
  const path = chunkPaths(other.manifest)[0]!
  proxy.corrupt = (p) => p === pinned
  const res = await edge.get(path)
  t.equal(res.status, 502)
  t.equal(((await res.json()) as ErrorJson).error.code, 'integrity_failure')
  t.equal(proxy.count(path), 0, 'the chunk was not even fetched without a verified manifest')
  t.notOk(await inCacheApi(edge, pinned))
  proxy.corrupt = undefined
  const good = await edge.get(path)
  t.equal(good.status, 200)
  await good.arrayBuffer()
})

t.test('a validly signed manifest of another track, served in place of this one, is refused', async (t) => {
  // Signed by the right key, but not what was asked for: a replay, not a corruption.
  const before = (await edge.stats()).integrityFailures.manifest
  proxy.rewrite = (p) => (p.startsWith('/v1/tracks/song/versions/') ? `/v1/tracks/other/versions/${other.manifest.version}/manifest` : undefined)
  const res = await edge.get(`/v1/tracks/song/versions/${other.manifest.version}/manifest`)
  t.equal(res.status, 502)
  const body = (await res.json()) as ErrorJson
  t.equal(body.error.code, 'integrity_failure')
  t.match(body.error.message, /came back for song/)
  t.equal((await edge.stats()).integrityFailures.manifest, before + 1)
  proxy.rewrite = undefined
  t.equal((await edge.stats()).errors['500'], undefined, 'nothing crashed')
})

t.test('a chunk changed inside the Cache API is checked on the way out: refused, counted, dropped and fetched again', async (t) => {
  // No memory tier: every hit is a read back from the Cache API.
  const cold = await startEdge(t, { ORIGIN_URL: origin.url, ORIGIN_PUBLIC_KEY: origin.keys.publicKey, READ_AHEAD: '0', MEMORY_CACHE_MB: '0' })
  const path = paths[2]!
  const good = new Uint8Array(await (await fetch(`${origin.url}${path}`)).arrayBuffer())
  const first = await cold.get(path)
  t.equal(first.headers.get('x-cache'), 'MISS')
  await first.arrayBuffer()
  await until(() => inCacheApi(cold, path), 'the chunk reached the Cache API')
  const hit = await cold.get(path)
  t.equal(hit.headers.get('x-cache'), 'HIT-CACHE', 'an honest copy is served from the Cache API')
  t.same(new Uint8Array(await hit.arrayBuffer()), good)

  // Someone (a bug, a disk, another Worker on the zone) puts other bytes under the chunk's key.
  const caches = await cold.mf.getCaches()
  const planted = good.slice()
  planted[100]! ^= 0xff
  await caches.default.put(
    cold.cacheKey(path),
    new MiniflareResponse(planted, { headers: { etag: `"${song.manifest.qualities[0]!.hashes[2]}"`, 'cache-control': 'public, max-age=31536000, immutable' } }),
  )
  const res = await cold.get(path)
  t.equal(res.status, 200, 'the listener still gets the chunk')
  t.equal(res.headers.get('x-cache'), 'MISS', 'from the origin, not from the tampered copy')
  t.same(new Uint8Array(await res.arrayBuffer()), good, 'the real bytes')
  t.equal((await cold.stats()).integrityFailures.cachedChunk, 1, 'counted')
  await until(async () => {
    const stored = await (await cold.mf.getCaches()).default.match(cold.cacheKey(path))
    return stored !== undefined && Buffer.from(await stored.arrayBuffer()).equals(Buffer.from(good))
  }, 'the good copy replaced the tampered one')
})
