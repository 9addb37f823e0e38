import t from 'tap'
import { chunkPaths, makeCatalog, signedManifest, startEdge, startProxy, startTestOrigin, until } from '../../test-support/edge.js'

// A shield tier: one Worker, two roles by config. Two lower edges (UPSTREAM_EDGE set) fetch their
// misses from one shield edge, which alone talks to the origin. Concurrent misses coalesce at
// each tier, so cold requests through both lower edges cost the origin one request.
const N = 40
const { dataDir } = await makeCatalog(t, [{ trackId: 'song', seconds: 4 }])
const origin = await startTestOrigin(t, dataDir)
const proxy = await startProxy(t, origin.url)
const key = origin.keys.publicKey
const shield = await startEdge(t, { ORIGIN_URL: proxy.url, ORIGIN_PUBLIC_KEY: key, READ_AHEAD: '0' })
const lowers = [await startEdge(t, { UPSTREAM_EDGE: shield.url, ORIGIN_PUBLIC_KEY: key, READ_AHEAD: '0' }), await startEdge(t, { UPSTREAM_EDGE: shield.url, ORIGIN_PUBLIC_KEY: key, READ_AHEAD: '0' })]
const doc = await signedManifest(origin.url, 'song')
const paths = chunkPaths(doc.manifest)

t.test(`${N} concurrent cold requests through each of two lower edges make one origin request`, async (t) => {
  const path = paths[1]!
  const pinned = `/v1/tracks/song/versions/${doc.manifest.version}/manifest`
  const expected = new Uint8Array(await (await fetch(`${origin.url}${path}`)).arrayBuffer())
  // The origin's answer is held until every request has arrived, however slow the machine.
  proxy.hold = (p) => p === path
  const answers = lowers.flatMap((lower) =>
    Array.from({ length: N }, async () => {
      const res = await lower.get(path)
      return { status: res.status, cache: res.headers.get('cache-status') ?? '', bytes: new Uint8Array(await res.arrayBuffer()) }
    }),
  )
  await until(async () => {
    const [s, a, b] = await Promise.all([shield.stats(), lowers[0]!.stats(), lowers[1]!.stats()])
    // Each lower edge: N-1 waiting on its own fetch; the shield: both lower edges' chunk requests
    // in, while the origin's answer is held, so the second can only be waiting on the first.
    return proxy.count(path) === 1 && a.coalescedWaits >= N - 1 && b.coalescedWaits >= N - 1 && s.requests.chunk === 2
  }, 'every request waiting at one of the tiers')
  proxy.release(path)
  proxy.hold = undefined
  const done = await Promise.all(answers)
  t.equal(proxy.count(path), 1, 'one origin request for the chunk')
  t.equal(proxy.count(pinned), 1, 'and one for the manifest that verifies it, at every tier')
  t.equal(proxy.seen.size, 2, 'nothing else reached the origin')
  t.ok(
    done.every((a) => a.status === 200),
    `all ${2 * N} answered 200`,
  )
  t.ok(
    done.every((a) => Buffer.from(a.bytes).equals(Buffer.from(expected))),
    'with the right bytes',
  )
  const s = await shield.stats()
  t.equal(s.origin.requests, 2, 'the shield asked the origin twice in all: the chunk and its manifest')
  t.equal(s.coalescedWaits >= 1, true, "the second lower edge waited on the first one's fetch at the shield")
  t.equal(s.requests.chunk, 2, 'one request from each lower edge')
  for (const lower of lowers) {
    const l = await lower.stats()
    t.equal(l.origin.requests, 2, 'each lower edge asked its shield twice: the chunk and its manifest')
  }
  // Cache-Status tells the whole path: the shield's member first (closest to the origin), then the lower edge's.
  const chunkKey = shield.cacheKey(path)
  const member = `fwd=uri-miss; fwd-status=200; ttl=31536000; stored`
  const chains = new Set(done.map((a) => a.cache))
  for (const chain of chains) {
    t.match(chain, new RegExp(`^chorus-edge; ${member}(; collapsed)?; key="${chunkKey}", chorus-edge; ${member}(; collapsed)?; key="${chunkKey}"$`), chain)
  }
})

t.test('after that, the lower edges serve from their own tiers and the shield is not asked', async (t) => {
  const path = paths[1]!
  const before = (await shield.stats()).requests.chunk
  for (const lower of lowers) {
    const res = await lower.get(path)
    t.equal(res.status, 200)
    t.equal(res.headers.get('cache-status'), `chorus-edge; hit; ttl=31536000; key="${lower.cacheKey(path)}"; detail=memory`)
    await res.arrayBuffer()
  }
  t.equal((await shield.stats()).requests.chunk, before)
  t.equal(proxy.count(path), 1)
})

t.test('a lower edge verifies what its shield sends: a flipped byte is refused at both tiers', async (t) => {
  const path = paths[3]!
  proxy.corrupt = (p) => p === path
  const res = await lowers[0]!.get(path)
  proxy.corrupt = undefined
  t.equal(res.status, 502)
  const body = (await res.json()) as { error: { code: string } }
  t.equal(body.error.code, 'origin_unavailable', 'the shield refused it (502 integrity_failure), so the lower edge had no chunk')
  t.match(
    res.headers.get('cache-status'),
    /^chorus-edge; fwd=uri-miss; fwd-status=200; key="[^"]+"; detail=integrity_failure, chorus-edge; fwd=uri-miss; fwd-status=502; key="[^"]+"; detail=origin_unavailable$/,
  )
  const again = await lowers[0]!.get(path)
  t.equal(again.status, 200, 'nothing bad was stored anywhere: the next request gets the good chunk')
  await again.arrayBuffer()
})

t.test('a lower edge reports its role, not where its shield is', async (t) => {
  const res = await lowers[0]!.get('/_chorus/stats')
  const text = await res.text()
  t.equal((JSON.parse(text) as { config: { upstream: string } }).config.upstream, 'edge')
  t.notOk(text.includes(new URL(shield.url).host))
})

t.test('a lower edge pointed at another lower edge fails at once (CDN-Loop), instead of waiting out a loop', async (t) => {
  const direct = await lowers[0]!.get(paths[0]!, { headers: { 'cdn-loop': 'other-cdn, chorus-edge' } })
  t.equal(direct.status, 403)
  t.equal(((await direct.json()) as { error: { code: string } }).error.code, 'forbidden')
  const shielded = await shield.get(paths[0]!, { headers: { 'cdn-loop': 'chorus-edge' } })
  t.equal(shielded.status, 200, 'a shield takes requests from edges: that is its job')
  await shielded.arrayBuffer()

  const misconfigured = await startEdge(t, { UPSTREAM_EDGE: lowers[0]!.url, ORIGIN_PUBLIC_KEY: key, READ_AHEAD: '0', ORIGIN_TIMEOUT_MS: '20000' })
  const started = Date.now()
  const res = await misconfigured.get(paths[0]!)
  t.equal(res.status, 502)
  t.ok(Date.now() - started < 10_000, `answered in ${Date.now() - started} ms, not after the 20 s timeout`)
  t.match(res.headers.get('cache-status'), /detail=forbidden, chorus-edge; fwd=uri-miss; fwd-status=403;/)
  await res.arrayBuffer()
})
