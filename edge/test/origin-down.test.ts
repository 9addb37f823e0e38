import t from 'tap'
import { chunkPaths, inCacheApi, makeCatalog, signedManifest, sleep, startEdge, startProxy, startTestOrigin, until } from '../../test-support/edge.js'

// Short TTL and window so the test sees a manifest go fresh -> stale -> gone in seconds; the
// window and the timeout leave room for a loaded machine between the steps.
const TTL_SEC = 1
const WINDOW_SEC = 6
const TIMEOUT_MS = 1500
const { dataDir } = await makeCatalog(t, [{ trackId: 'song', seconds: 3 }])
const origin = await startTestOrigin(t, dataDir)
const proxy = await startProxy(t, origin.url)
const edge = await startEdge(t, {
  ORIGIN_URL: proxy.url,
  ORIGIN_PUBLIC_KEY: origin.keys.publicKey,
  MANIFEST_TTL_SEC: String(TTL_SEC),
  STALE_WINDOW_SEC: String(WINDOW_SEC),
  ORIGIN_TIMEOUT_MS: String(TIMEOUT_MS),
  ADMIT_AFTER: '2',
  READ_AHEAD: '0',
})
const doc = await signedManifest(origin.url, 'song')
const paths = chunkPaths(doc.manifest)
const originBytes = new Map<string, Uint8Array>()
for (const p of paths.slice(0, 2)) originBytes.set(p, new Uint8Array(await (await fetch(`${origin.url}${p}`)).arrayBuffer()))
const manifestText = await (await fetch(`${origin.url}/v1/tracks/song/manifest`)).text()
const catalogJson = await (await fetch(`${origin.url}/v1/tracks`)).json()

interface ErrorJson {
  error: { code: string; message: string }
}

// Chunk 0 ends up in memory and the Cache API, chunk 1 in the Cache API only (ADMIT_AFTER=2).
for (const p of [paths[0]!, paths[1]!]) await (await edge.get(p)).arrayBuffer()
await until(async () => (await inCacheApi(edge, paths[0]!)) && (await inCacheApi(edge, paths[1]!)), 'chunks in the Cache API')
await (await edge.get(paths[0]!)).arrayBuffer()
await (await edge.get('/v1/tracks/song/manifest')).arrayBuffer()
await (await edge.get('/v1/tracks')).arrayBuffer()
// The edge took both from the origin no later than this.
const fetchedBy = Date.now()

t.test('a slow origin: a cold chunk times out as a 504, a manifest past its TTL is served stale', async (t) => {
  // The proxy holds every request from here on: an origin that never answers.
  proxy.hold = () => true
  const timeouts = (await edge.stats()).origin.timeouts
  const cold = await edge.get(paths[2]!)
  t.equal(cold.status, 504)
  t.equal(((await cold.json()) as ErrorJson).error.code, 'origin_timeout')
  t.equal((await edge.stats()).origin.timeouts, timeouts + 1)

  await sleep(Math.max(0, fetchedBy + TTL_SEC * 1000 + 100 - Date.now()))
  const manifest = await edge.get('/v1/tracks/song/manifest')
  t.equal(manifest.status, 200)
  t.equal(manifest.headers.get('x-cache'), 'STALE')
  t.equal(manifest.headers.get('warning'), '110 - "Response is Stale"')
  t.match(manifest.headers.get('x-chorus-stale'), /origin unavailable/)
  t.equal(await manifest.text(), manifestText)
  t.equal((await edge.stats()).origin.timeouts, timeouts + 2)
  proxy.hold = undefined
})

t.test('the origin stopped: cached chunks keep being served, manifests and the catalog stale', async (t) => {
  await origin.close()
  const fromMemory = await edge.get(paths[0]!)
  t.equal(fromMemory.status, 200)
  t.equal(fromMemory.headers.get('x-cache'), 'HIT-MEMORY')
  t.same(new Uint8Array(await fromMemory.arrayBuffer()), originBytes.get(paths[0]!))

  const fromCache = await edge.get(paths[1]!)
  t.equal(fromCache.status, 200)
  t.equal(fromCache.headers.get('x-cache'), 'HIT-CACHE')
  t.same(new Uint8Array(await fromCache.arrayBuffer()), originBytes.get(paths[1]!))

  const ranged = await edge.get(paths[1]!, { headers: { range: 'bytes=0-9' } })
  t.equal(ranged.status, 206)
  t.same(new Uint8Array(await ranged.arrayBuffer()), originBytes.get(paths[1]!)!.subarray(0, 10))

  const manifest = await edge.get('/v1/tracks/song/manifest')
  t.equal(manifest.status, 200)
  t.equal(manifest.headers.get('x-cache'), 'STALE')
  t.equal(manifest.headers.get('cache-control'), 'no-cache')
  // Refreshing the expired copy was tried (fwd=stale) and failed: the copy is served, its ttl negative.
  t.match(manifest.headers.get('cache-status'), /^chorus-edge; fwd=stale; ttl=(0|-\d+); key="https:\/\/chorus-edge\.invalid\/v1\/tracks\/song\/manifest"; detail=stale-served$/)
  t.equal(await manifest.text(), manifestText)

  const pinned = await edge.get(`/v1/tracks/song/versions/${doc.manifest.version}/manifest`)
  t.equal(pinned.status, 200, 'a pinned version never goes stale')
  t.equal(pinned.headers.get('x-cache'), 'HIT-MEMORY')
  await pinned.arrayBuffer()

  const catalog = await edge.get('/v1/tracks')
  t.equal(catalog.status, 200)
  t.equal(catalog.headers.get('x-cache'), 'STALE')
  t.same(await catalog.json(), catalogJson)

  const cold = await edge.get(paths[3]!)
  t.equal(cold.status, 502, 'a chunk never cached cannot be served')
  const body = (await cold.json()) as ErrorJson
  t.equal(body.error.code, 'origin_unavailable')

  // Forwarded, but nothing came back: Cache-Status has fwd and no fwd-status.
  t.equal(cold.headers.get('cache-status'), `chorus-edge; fwd=uri-miss; key="${edge.cacheKey(paths[3]!)}"; detail=origin_unavailable`)

  const s = await edge.stats()
  t.equal(s.stale, 3, 'stale answers counted')
  t.ok(s.origin.errors >= 3, 'origin errors counted')
  t.equal(s.errors['500'], undefined, 'nothing crashed')
})

t.test('past TTL + STALE_WINDOW_SEC a manifest is no longer served', async (t) => {
  await sleep(Math.max(0, fetchedBy + (TTL_SEC + WINDOW_SEC) * 1000 + 300 - Date.now()))
  const res = await edge.get('/v1/tracks/song/manifest')
  t.equal(res.status, 502)
  t.equal(((await res.json()) as ErrorJson).error.code, 'origin_unavailable')
  const chunk = await edge.get(paths[0]!)
  t.equal(chunk.status, 200, 'chunks are immutable: no window applies to them')
  await chunk.arrayBuffer()
})
