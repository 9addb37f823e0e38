import t from 'tap'
import { chunkPaths, inCacheApi, makeCatalog, signedManifest, startEdge, startProxy, startTestOrigin, until } from '../../test-support/edge.js'

// One origin, one counting proxy, one edge in workerd for the whole file. ADMIT_AFTER=2 keeps a
// chunk out of memory on its first miss, so the Cache API tier shows up on its own.
const { dataDir } = await makeCatalog(t, [{ trackId: 'song', seconds: 4 }])
const origin = await startTestOrigin(t, dataDir)
const proxy = await startProxy(t, origin.url)
const edge = await startEdge(t, { ORIGIN_URL: proxy.url, ORIGIN_PUBLIC_KEY: origin.keys.publicKey, ADMIT_AFTER: '2', READ_AHEAD: '2' })
const doc = await signedManifest(origin.url, 'song')
const paths = chunkPaths(doc.manifest)
const quality = doc.manifest.qualities[0]!
const bytesAtOrigin = async (path: string) => new Uint8Array(await (await fetch(`${origin.url}${path}`)).arrayBuffer())

t.ok(paths.length >= 10, `the test track has ${paths.length} chunks`)

t.test('a chunk climbs the tiers: MISS from the origin, then HIT-CACHE, then HIT-MEMORY', async (t) => {
  const path = paths[0]!
  const first = await edge.get(path)
  t.equal(first.status, 200)
  t.equal(first.headers.get('x-cache'), 'MISS')
  t.match(first.headers.get('server-timing'), /memory;dur=[\d.]+, cache;dur=[\d.]+, manifest;dur=[\d.]+, origin;dur=[\d.]+, verify;dur=/)
  t.equal(first.headers.get('etag'), `"${quality.hashes[0]}"`)
  t.same(new Uint8Array(await first.arrayBuffer()), await bytesAtOrigin(path), 'the bytes the origin holds')
  await until(() => inCacheApi(edge, path), 'the chunk in the Cache API')

  const second = await edge.get(path)
  t.equal(second.headers.get('x-cache'), 'HIT-CACHE')
  t.match(second.headers.get('server-timing'), /^memory;dur=[\d.]+, cache;dur=[\d.]+, manifest;dur=[\d.]+, verify;dur=[\d.]+$/, 'a Cache API hit is checked against the manifest')
  t.same(new Uint8Array(await second.arrayBuffer()), await bytesAtOrigin(path))

  const third = await edge.get(path)
  t.equal(third.headers.get('x-cache'), 'HIT-MEMORY')
  t.match(third.headers.get('server-timing'), /^memory;dur=[\d.]+$/)
  t.same(new Uint8Array(await third.arrayBuffer()), await bytesAtOrigin(path))
  t.equal(proxy.count(path), 1, 'the origin was asked once')
})

t.test('a miss warms the next READ_AHEAD chunks in the background, and no further', async (t) => {
  const [a, b, c, d] = [paths[4]!, paths[5]!, paths[6]!, paths[7]!]
  const res = await edge.get(a)
  t.equal(res.headers.get('x-cache'), 'MISS')
  await res.arrayBuffer()
  await until(() => proxy.count(b) === 1 && proxy.count(c) === 1, 'read-ahead of the next two chunks')
  await until(async () => (await inCacheApi(edge, b)) && (await inCacheApi(edge, c)), 'warmed chunks in the Cache API')
  t.equal(proxy.count(d), 0, 'the third chunk after is left alone')
  const warmed = await edge.get(b)
  t.equal(warmed.headers.get('x-cache'), 'HIT-CACHE', 'a warmed chunk is a hit')
  await warmed.arrayBuffer()
  t.equal(proxy.count(b), 1)

  const started = (await edge.stats()).readAhead.started
  const last = paths.at(-1)!
  await (await edge.get(last)).arrayBuffer()
  await until(() => inCacheApi(edge, last), 'the last chunk in the Cache API')
  t.equal((await edge.stats()).readAhead.started, started, 'a miss on the last chunk reads nothing ahead')
  t.equal(proxy.countPrefix(last.replace(/\d+$/, String(paths.length))), 0, 'nothing past the last chunk was asked for')
})

t.test('Range, conditional and HEAD requests are answered from the whole cached chunk', async (t) => {
  const path = paths[0]!
  const full = await bytesAtOrigin(path)
  const before = proxy.count(path)

  const part = await edge.get(path, { headers: { range: 'bytes=100-199' } })
  t.equal(part.status, 206)
  t.equal(part.headers.get('content-range'), `bytes 100-199/${full.length}`)
  t.equal(part.headers.get('content-length'), '100')
  t.same(new Uint8Array(await part.arrayBuffer()), full.subarray(100, 200))

  const suffix = await edge.get(path, { headers: { range: 'bytes=-10' } })
  t.equal(suffix.status, 206)
  t.same(new Uint8Array(await suffix.arrayBuffer()), full.subarray(full.length - 10))

  const past = await edge.get(path, { headers: { range: `bytes=${full.length}-` } })
  t.equal(past.status, 416)
  t.equal(past.headers.get('content-range'), `bytes */${full.length}`)
  t.equal(((await past.json()) as { error: { code: string } }).error.code, 'invalid_range')

  const multi = await edge.get(path, { headers: { range: 'bytes=0-1,5-6' } })
  t.equal(multi.status, 416, 'multiple ranges are refused, not half-served')
  await multi.arrayBuffer()

  const etag = `"${quality.hashes[0]}"`
  const same = await edge.get(path, { headers: { 'if-none-match': etag } })
  t.equal(same.status, 304)
  t.equal(same.headers.get('etag'), etag)
  t.equal((await same.arrayBuffer()).byteLength, 0)
  const other = await edge.get(path, { headers: { 'if-none-match': '"something-else"' } })
  t.equal(other.status, 200)
  await other.arrayBuffer()

  const head = await edge.get(path, { method: 'HEAD' })
  t.equal(head.status, 200)
  t.equal(head.headers.get('content-length'), String(full.length))
  t.equal((await head.arrayBuffer()).byteLength, 0)
  t.equal(proxy.count(path), before, 'none of these reached the origin')
})

t.test('a Range on a cold chunk fetches the whole chunk once, then answers the range', async (t) => {
  const path = paths[9]!
  const res = await edge.get(path, { headers: { range: 'bytes=0-15' } })
  t.equal(res.status, 206)
  t.equal(res.headers.get('x-cache'), 'MISS')
  t.same(new Uint8Array(await res.arrayBuffer()), (await bytesAtOrigin(path)).subarray(0, 16))
  t.equal(proxy.count(path), 1)
})

t.test('manifests: the current one fresh for its TTL, pinned versions immutable, bytes unchanged', async (t) => {
  const atOrigin = await (await fetch(`${origin.url}/v1/tracks/song/manifest`)).text()
  const current = await edge.get('/v1/tracks/song/manifest')
  t.equal(current.status, 200)
  t.equal(await current.text(), atOrigin, 'the signed document byte for byte')
  t.match(current.headers.get('cache-control'), /^public, max-age=\d+$/)
  const again = await edge.get('/v1/tracks/song/manifest')
  t.equal(again.headers.get('x-cache'), 'HIT-MEMORY')
  await again.text()
  t.equal(proxy.count('/v1/tracks/song/manifest'), 1)

  const pinnedPath = `/v1/tracks/song/versions/${doc.manifest.version}/manifest`
  t.equal(proxy.count(pinnedPath), 1, 'the first chunk miss fetched its version to verify the chunk')
  const pinned = await edge.get(pinnedPath)
  t.equal(pinned.status, 200)
  t.equal(pinned.headers.get('cache-control'), 'public, max-age=31536000, immutable')
  t.same(JSON.parse(await pinned.text()), doc)
  t.equal(pinned.headers.get('x-cache'), 'HIT-MEMORY')
  t.equal(proxy.count(pinnedPath), 1, 'and kept it')

  const etag = again.headers.get('etag')!
  const notModified = await edge.get('/v1/tracks/song/manifest', { headers: { 'if-none-match': etag } })
  t.equal(notModified.status, 304)
})

t.test('the catalog list passes through, kept for the TTL', async (t) => {
  const atOrigin = await (await fetch(`${origin.url}/v1/tracks`)).json()
  const res = await edge.get('/v1/tracks')
  t.equal(res.status, 200)
  t.same(await res.json(), atOrigin)
  const again = await edge.get('/v1/tracks')
  t.equal(again.headers.get('x-cache'), 'HIT-MEMORY')
  await again.arrayBuffer()
  t.equal(proxy.count('/v1/tracks'), 1)
})

t.test('sessions and track keys are never served by the edge: 404 not_at_edge, and the origin is not asked', async (t) => {
  const before = [...proxy.seen.values()].reduce((a, b) => a + b, 0)
  // The origin would answer these (a valid API key, a valid session token): the edge must not pass them on.
  const session = await fetch(`${origin.url}/v1/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ apiKey: 'k' }) })
  t.equal(session.status, 200, 'the origin itself gives sessions')
  const token = ((await session.json()) as { token: string }).token
  const asks: Array<[string, RequestInit]> = [
    ['/v1/session', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ apiKey: 'k' }) }],
    ['/v1/session', {}],
    ['/v1/tracks/song/key', { headers: { authorization: `Bearer ${token}` } }],
    [`/v1/tracks/song/key?version=${doc.manifest.version}`, { headers: { authorization: `Bearer ${token}` } }],
    ['/v1/tracks/song/key', { method: 'HEAD' }],
  ]
  for (const [path, init] of asks) {
    const res = await edge.get(path, init)
    t.equal(res.status, 404, `${init.method ?? 'GET'} ${path} -> 404`)
    t.equal(res.headers.get('access-control-allow-origin'), '*', 'readable by a player on another origin')
    if (init.method === 'HEAD') {
      await res.arrayBuffer()
      continue
    }
    const body = (await res.json()) as { error: { code: string; message: string } }
    t.equal(body.error.code, 'not_at_edge')
    t.match(body.error.message, /key service \(the origin\), never through a caching edge/)
    t.notOk(JSON.stringify(body).includes(token), 'nothing of the token comes back')
  }
  t.equal(
    [...proxy.seen.values()].reduce((a, b) => a + b, 0),
    before,
    'the origin received nothing',
  )
  t.equal(proxy.count('/v1/session'), 0)
  t.equal(proxy.countPrefix('/v1/tracks/song/key'), 0)
  t.notOk(await inCacheApi(edge, '/v1/tracks/song/key'), 'no key in the Cache API')
})

t.test('CORS: a page on another origin may fetch chunks and read the cache headers', async (t) => {
  const preflight = await edge.get(paths[0]!, {
    method: 'OPTIONS',
    headers: { origin: 'http://127.0.0.1:5173', 'access-control-request-method': 'GET', 'access-control-request-headers': 'range, authorization' },
  })
  t.equal(preflight.status, 204)
  t.equal(preflight.headers.get('access-control-allow-origin'), '*')
  t.match(preflight.headers.get('access-control-allow-headers'), /range/)
  t.match(preflight.headers.get('access-control-allow-headers'), /authorization/)
  const res = await edge.get(paths[0]!, { headers: { origin: 'http://127.0.0.1:5173' } })
  t.equal(res.headers.get('access-control-allow-origin'), '*')
  t.match(res.headers.get('access-control-expose-headers'), /x-cache/)
  t.match(res.headers.get('access-control-expose-headers'), /server-timing/)
  t.equal(res.headers.get('timing-allow-origin'), '*')
  await res.arrayBuffer()
})

t.test('stats and metrics add up to what was served', async (t) => {
  const s = await edge.stats()
  t.ok(s.hits.memory >= 1 && s.hits.cache >= 2 && s.misses >= 3, `hits ${JSON.stringify(s.hits)}, misses ${s.misses}`)
  const answers = s.hits.memory + s.hits.cache + s.stale + s.misses
  t.equal(s.hitRatio, (s.hits.memory + s.hits.cache + s.stale) / answers)
  const allBytes = s.bytes.memory! + s.bytes.cache! + s.bytes.origin! + s.bytes.stale!
  t.equal(s.byteHitRatio, (s.bytes.memory! + s.bytes.cache! + s.bytes.stale!) / allBytes)
  t.ok(s.bytes.origin! >= quality.chunkSize * 2, 'bytes from the origin counted')
  t.equal(s.integrityFailures.chunk, 0)
  t.equal(s.origin.latencyMs.count, s.origin.requests)
  t.equal(
    s.origin.requests,
    [...proxy.seen.values()].reduce((a, b) => a + b, 0),
    'every request the proxy saw is in the origin histogram',
  )
  t.equal(s.memory?.policy, 'chunk-aware', 'the default policy')
  t.equal(s.errors['500'], undefined, 'nothing crashed')

  const res = await edge.get('/_chorus/metrics')
  t.equal(res.status, 200)
  t.match(res.headers.get('content-type'), /^text\/plain; version=0\.0\.4/)
  const text = await res.text()
  const value = (line: string) => Number(new RegExp(`^${line.replace(/[{}"|+]/g, '\\$&')} (\\S+)$`, 'm').exec(text)?.[1])
  const after = await edge.stats()
  t.equal(value('chorus_edge_hits_total{tier="memory"}'), after.hits.memory)
  t.equal(value('chorus_edge_hits_total{tier="cache"}'), after.hits.cache)
  t.equal(value('chorus_edge_misses_total'), after.misses)
  t.equal(value('chorus_edge_coalesced_waits_total'), after.coalescedWaits)
  t.equal(value('chorus_edge_integrity_failures_total{what="chunk"}'), 0)
  t.equal(value('chorus_edge_origin_latency_seconds_count'), after.origin.requests)
  t.equal(value('chorus_edge_origin_latency_seconds_bucket{le="+Inf"}'), after.origin.requests)
  t.match(text, /# TYPE chorus_edge_origin_latency_seconds histogram/)
  t.match(text, /chorus_edge_byte_hit_ratio \d/)
})
