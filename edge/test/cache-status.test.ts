import t from 'tap'
import { chunkPaths, makeCatalog, signedManifest, startEdge, startProxy, startTestOrigin, until } from '../../test-support/edge.js'

// Cache-Status (RFC 9211) on every answer, checked as whole header values: a miss, hits in each
// tier, misses collapsed onto one origin fetch, and errors (from the origin, from the negative
// cache, and the edge's own refusals).
const { dataDir } = await makeCatalog(t, [{ trackId: 'song', seconds: 4 }])
const origin = await startTestOrigin(t, dataDir)
const proxy = await startProxy(t, origin.url)
// ADMIT_AFTER=2: a first miss stays out of memory, so the next answer is a Cache API hit.
const edge = await startEdge(t, { ORIGIN_URL: proxy.url, ORIGIN_PUBLIC_KEY: origin.keys.publicKey, READ_AHEAD: '0', ADMIT_AFTER: '2', MANIFEST_TTL_SEC: '30', NEGATIVE_TTL_SEC: '20' })
const doc = await signedManifest(origin.url, 'song')
const paths = chunkPaths(doc.manifest)
const YEAR = 31536000
const status = (res: Response) => res.headers.get('cache-status')

t.test('a chunk: miss, then a Cache API hit, then a memory hit', async (t) => {
  const path = paths[0]!
  const key = edge.cacheKey(path)
  t.equal(key, `https://chorus-edge.invalid${path}`)
  const miss = await edge.get(path)
  t.equal(miss.status, 200)
  t.equal(status(miss), `chorus-edge; fwd=uri-miss; fwd-status=200; ttl=${YEAR}; stored; key="${key}"`)
  t.equal(miss.headers.get('x-cache'), 'MISS', 'beside the existing x-cache')
  await miss.arrayBuffer()
  await until(async () => {
    const caches = await edge.mf.getCaches()
    const res = await caches.default.match(key)
    if (res) await res.arrayBuffer()
    return res !== undefined
  }, 'the chunk in the Cache API')
  const fromCache = await edge.get(path)
  t.equal(status(fromCache), `chorus-edge; hit; ttl=${YEAR}; key="${key}"; detail=cache-api`)
  await fromCache.arrayBuffer()
  const fromMemory = await edge.get(path)
  t.equal(status(fromMemory), `chorus-edge; hit; ttl=${YEAR}; key="${key}"; detail=memory`)
  await fromMemory.arrayBuffer()
  const ranged = await edge.get(path, { headers: { range: 'bytes=0-3' } })
  t.equal(ranged.status, 206)
  t.equal(status(ranged), `chorus-edge; hit; ttl=${YEAR}; key="${key}"; detail=memory`, 'a 206 made from a stored chunk says so too')
  await ranged.arrayBuffer()
  t.match((await edge.get(path, { method: 'OPTIONS' })).headers.get('access-control-expose-headers'), /cache-status/, 'a player on another page can read it')
})

t.test('concurrent misses: one origin fetch, the others say collapsed', async (t) => {
  const path = paths[2]!
  const key = edge.cacheKey(path)
  proxy.hold = (p) => p === path
  const answers = Array.from({ length: 8 }, async () => {
    const res = await edge.get(path)
    await res.arrayBuffer()
    return status(res)
  })
  await until(async () => proxy.count(path) === 1 && (await edge.stats()).coalescedWaits >= 7, 'seven requests waiting on the first')
  proxy.release(path)
  proxy.hold = undefined
  const values = await Promise.all(answers)
  t.equal(proxy.count(path), 1)
  const leader = `chorus-edge; fwd=uri-miss; fwd-status=200; ttl=${YEAR}; stored; key="${key}"`
  const waiter = `chorus-edge; fwd=uri-miss; fwd-status=200; ttl=${YEAR}; stored; collapsed; key="${key}"`
  t.equal(values.filter((v) => v === leader).length, 1, 'the request that fetched')
  t.equal(values.filter((v) => v === waiter).length, 7, 'the seven that waited on it')
})

t.test('manifests and the catalog: misses with their TTL, then hits', async (t) => {
  const current = await edge.get('/v1/tracks/song/manifest')
  t.equal(status(current), `chorus-edge; fwd=uri-miss; fwd-status=200; ttl=30; stored; key="https://chorus-edge.invalid/v1/tracks/song/manifest"`)
  await current.arrayBuffer()
  const again = await edge.get('/v1/tracks/song/manifest')
  t.match(status(again), /^chorus-edge; hit; ttl=(29|30); key="https:\/\/chorus-edge\.invalid\/v1\/tracks\/song\/manifest"; detail=memory$/)
  await again.arrayBuffer()
  const pinned = await edge.get(`/v1/tracks/song/versions/${doc.manifest.version}/manifest`)
  t.equal(
    status(pinned),
    `chorus-edge; hit; ttl=${YEAR}; key="https://chorus-edge.invalid/v1/tracks/song/versions/${doc.manifest.version}/manifest"; detail=memory`,
    'fetched when the first chunk was verified',
  )
  await pinned.arrayBuffer()
  const catalog = await edge.get('/v1/tracks')
  t.equal(status(catalog), `chorus-edge; fwd=uri-miss; fwd-status=200; ttl=30; stored; key="https://chorus-edge.invalid/v1/tracks"`)
  await catalog.arrayBuffer()
})

t.test('errors: what the origin said, the negative cache, and the edge refusing on its own', async (t) => {
  // The origin answers 404 for a chunk its manifest lists: a 502, fwd-status says what came back.
  const path = paths[4]!
  proxy.rewrite = (p) => (p === path ? `${path}0` : undefined)
  const broken = await edge.get(path)
  proxy.rewrite = undefined
  t.equal(broken.status, 502)
  t.equal(status(broken), `chorus-edge; fwd=uri-miss; fwd-status=404; key="${edge.cacheKey(path)}"; detail=origin_unavailable`, 'nothing stored')
  await broken.arrayBuffer()

  // The same failure shared by five requests: the four that waited say collapsed as well.
  const shared = paths[6]!
  proxy.rewrite = (p) => (p === shared ? `${shared}0` : undefined)
  proxy.hold = (p) => p === shared
  const waitsBefore = (await edge.stats()).coalescedWaits
  const failing = Array.from({ length: 5 }, async () => {
    const res = await edge.get(shared)
    await res.arrayBuffer()
    return `${res.status} ${status(res)}`
  })
  await until(async () => proxy.count(shared) === 1 && (await edge.stats()).coalescedWaits === waitsBefore + 4, 'four requests waiting on the first')
  proxy.release(shared)
  proxy.hold = undefined
  const failed = await Promise.all(failing)
  proxy.rewrite = undefined
  const sharedKey = edge.cacheKey(shared)
  t.equal(failed.filter((v) => v === `502 chorus-edge; fwd=uri-miss; fwd-status=404; key="${sharedKey}"; detail=origin_unavailable`).length, 1)
  t.equal(failed.filter((v) => v === `502 chorus-edge; fwd=uri-miss; fwd-status=404; collapsed; key="${sharedKey}"; detail=origin_unavailable`).length, 4)

  // Flipped bytes: the origin said 200, the edge refused to store it.
  const flipped = paths[5]!
  proxy.corrupt = (p) => p === flipped
  const bad = await edge.get(flipped)
  proxy.corrupt = undefined
  t.equal(bad.status, 502)
  t.equal(status(bad), `chorus-edge; fwd=uri-miss; fwd-status=200; key="${edge.cacheKey(flipped)}"; detail=integrity_failure`)
  await bad.arrayBuffer()

  // An unknown track: the origin's 404 is stored in the negative cache, then served from it.
  const ghost = '/v1/tracks/ghost/manifest'
  const first = await edge.get(ghost)
  t.equal(first.status, 404)
  t.equal(status(first), `chorus-edge; fwd=uri-miss; fwd-status=404; stored; key="https://chorus-edge.invalid${ghost}"; detail=track_not_found`)
  await first.arrayBuffer()
  const second = await edge.get(ghost)
  t.equal(second.status, 404)
  t.match(status(second), new RegExp(`^chorus-edge; hit; ttl=(19|20); key="https://chorus-edge\\.invalid${ghost}"; detail=track_not_found$`))
  await second.arrayBuffer()
  t.equal(proxy.count(ghost), 1)

  // The edge's own answers: no cache, no origin involved.
  const malformed = await edge.get('/v1/chunks/song/x/96/0')
  t.equal(malformed.status, 400)
  t.equal(status(malformed), 'chorus-edge; detail=invalid_id')
  await malformed.arrayBuffer()
  const unlisted = await edge.get(paths[0]!.replace(/\d+$/, '9999'))
  t.equal(unlisted.status, 404)
  t.equal(status(unlisted), `chorus-edge; key="${edge.cacheKey(paths[0]!.replace(/\d+$/, '9999'))}"; detail=chunk_not_found`, 'refused from the stored manifest')
  await unlisted.arrayBuffer()
  for (const [p, code] of [
    ['/nowhere', 'not_found'],
    ['/v1/session', 'not_at_edge'],
    ['/v1/tracks/song/key', 'not_at_edge'],
  ] as const) {
    const res = await edge.get(p)
    t.equal(status(res), `chorus-edge; detail=${code}`, p)
    await res.arrayBuffer()
  }
  const health = await edge.get('/healthz')
  t.equal(status(health), 'chorus-edge; detail=generated')
  await health.arrayBuffer()
})
