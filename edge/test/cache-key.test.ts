import { request as httpRequest } from 'node:http'
import t from 'tap'
import { chunkPaths, inCacheApi, makeCatalog, signedManifest, startEdge, startProxy, startTestOrigin, until } from '../../test-support/edge.js'
import type { TestEdge } from '../../test-support/edge.js'

// Cache keys are CACHE_HOST and the path: not the Host header a request came with, not its
// query string. Two edges: one with its memory tier on (query strings must not make entries
// there either), one with it off, so that every answer shows what the shared Cache API holds.
const OPERATOR_TOKEN = 'operator-token-for-the-cache-key-test'
const { dataDir } = await makeCatalog(t, [{ trackId: 'song', seconds: 4 }])
const origin = await startTestOrigin(t, dataDir)
const proxy = await startProxy(t, origin.url)
const base = { ORIGIN_URL: proxy.url, ORIGIN_PUBLIC_KEY: origin.keys.publicKey, READ_AHEAD: '0', OPERATOR_TOKEN }
const withMemory = await startEdge(t, base)
const cacheOnly = await startEdge(t, { ...base, MEMORY_CACHE_MB: '0' })
const doc = await signedManifest(origin.url, 'song')
const paths = chunkPaths(doc.manifest)

interface Answer {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: Buffer
}

/** A real HTTP request to the edge with the Host header a listener's hostname would give it. */
function viaHost(edge: TestEdge, host: string, path: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Answer> {
  const url = new URL(edge.url)
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: url.hostname, port: url.port, path, method: init.method ?? 'GET', headers: { ...init.headers, host } }, (res) => {
      const parts: Buffer[] = []
      res.on('data', (d: Buffer) => parts.push(d))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts) }))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end(init.body)
  })
}

const keyOf = (a: Answer) => /key="([^"]*)"/.exec(String(a.headers['cache-status']))?.[1]

t.test('1,000 distinct query strings on one cold chunk make one origin request and one cache entry', async (t) => {
  const path = paths[3]!
  const expected = new Uint8Array(await (await fetch(`${origin.url}${path}`)).arrayBuffer())
  const queries = Array.from({ length: 1000 }, (_, i) => `?v=${i}&cb=${(i * 7919).toString(36)}${i % 3 === 0 ? '&token=x' : ''}`)
  // 25 at a time: concurrent enough to race the first miss, gentle on a shared 2-core machine.
  let next = 0
  const bad: string[] = []
  const keys = new Set<string>()
  const worker = async () => {
    while (next < queries.length) {
      const q = queries[next++]!
      const res = await withMemory.get(`${path}${q}`)
      const body = new Uint8Array(await res.arrayBuffer())
      keys.add(/key="([^"]*)"/.exec(res.headers.get('cache-status') ?? '')?.[1] ?? '')
      if (res.status !== 200 || !Buffer.from(body).equals(Buffer.from(expected))) bad.push(`${q}: ${res.status}`)
    }
  }
  await Promise.all(Array.from({ length: 25 }, worker))
  t.same(bad, [], 'every query string got the chunk')
  t.equal(proxy.countPrefix(path), 1, 'one origin request for the chunk')
  t.notOk(
    [...proxy.seen.keys()].some((p) => p.includes('?')),
    'no query string ever reached the origin',
  )
  t.same([...keys], [withMemory.cacheKey(path)], 'one key, the path alone')
  const stats = await withMemory.stats()
  t.equal(stats.memory?.entries, 1, 'one memory entry')
  await until(() => inCacheApi(withMemory, path), 'the chunk in the Cache API')
  const caches = await withMemory.mf.getCaches()
  for (const q of queries.slice(0, 20)) {
    const res = await caches.default.match(withMemory.cacheKey(`${path}${q}`))
    if (res) await res.arrayBuffer()
    t.equal(res, undefined, `no Cache API entry for ${q}`)
  }
})

t.test('query strings on manifests and the catalog make no origin requests of their own', async (t) => {
  for (const p of ['/v1/tracks/song/manifest', `/v1/tracks/song/versions/${doc.manifest.version}/manifest`, '/v1/tracks']) {
    for (let i = 0; i < 20; i++) {
      const res = await withMemory.get(`${p}?x=${i}`)
      t.equal(res.status, 200)
      await res.arrayBuffer()
    }
    t.ok(proxy.count(p) <= 1, `${p}: ${proxy.count(p)} origin request(s) for 20 query strings`)
    t.notOk(
      [...proxy.seen.keys()].some((k) => k.startsWith(`${p}?`)),
      'none with a query string',
    )
  }
})

t.test('two Host names share one entry', async (t) => {
  const path = paths[5]!
  const a = await viaHost(cacheOnly, 'listeners-a.example', path)
  t.equal(a.status, 200)
  t.equal(a.headers['x-cache'], 'MISS')
  await until(() => inCacheApi(cacheOnly, path), 'the chunk in the Cache API')
  const b = await viaHost(cacheOnly, 'listeners-b.example:8443', path)
  t.equal(b.status, 200)
  t.equal(b.headers['x-cache'], 'HIT-CACHE', 'the second hostname finds what the first one stored')
  t.ok(b.body.equals(a.body))
  t.equal(keyOf(a), cacheOnly.cacheKey(path))
  t.equal(keyOf(b), keyOf(a), 'one key for both hostnames')
  t.equal(proxy.count(path), 1, 'one origin request')

  const manifestA = await viaHost(cacheOnly, 'listeners-a.example', `/v1/tracks/song/versions/${doc.manifest.version}/manifest`)
  const manifestB = await viaHost(cacheOnly, 'listeners-b.example', `/v1/tracks/song/versions/${doc.manifest.version}/manifest`)
  t.equal(keyOf(manifestA), keyOf(manifestB), 'manifests too')
})

t.test('a purge through host A is seen through host B', async (t) => {
  const path = paths[6]!
  const warm = await viaHost(cacheOnly, 'listeners-b.example', path)
  t.equal(warm.status, 200)
  await until(() => inCacheApi(cacheOnly, path), 'the chunk in the Cache API')
  t.equal(proxy.count(path), 1)
  const purged = await viaHost(cacheOnly, 'listeners-a.example', '/_chorus/purge', {
    method: 'POST',
    headers: { authorization: `Bearer ${OPERATOR_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ chunk: path }),
  })
  t.equal(purged.status, 200, purged.body.toString())
  t.match(JSON.parse(purged.body.toString()), { purged: { chunk: path, cache: 1 } })
  t.notOk(await inCacheApi(cacheOnly, path), 'gone from the Cache API')
  const after = await viaHost(cacheOnly, 'listeners-b.example', path)
  t.equal(after.status, 200)
  t.equal(after.headers['x-cache'], 'MISS', 'host B no longer has it')
  t.equal(proxy.count(path), 2, 'so it came from the origin again')

  // A whole track too: the version index is shared by every hostname as well.
  const other = paths[7]!
  await viaHost(cacheOnly, 'listeners-b.example', other)
  await until(() => inCacheApi(cacheOnly, other), 'the chunk in the Cache API')
  const track = await viaHost(cacheOnly, 'listeners-a.example', '/_chorus/purge', {
    method: 'POST',
    headers: { authorization: `Bearer ${OPERATOR_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ track: 'song' }),
  })
  t.equal(track.status, 200)
  t.notOk(await inCacheApi(cacheOnly, other), 'purging the track through host A removed what host B cached')
})
