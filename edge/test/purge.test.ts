import { join } from 'node:path'
import t from 'tap'
import { type Manifest, manifestPath, signToken } from '../../protocol/index.js'
import { chunkPaths, inCacheApi, makeCatalog, startEdge, startProxy, startTestOrigin, until } from '../../test-support/edge.js'
import type { TestEdge } from '../../test-support/edge.js'

const PURGE_TOKEN = 'purge-secret-for-the-edge-test'
// 'song' is ingested twice (two versions: an old one and the current one), 'other' once.
const { dataDir, tracks } = await makeCatalog(t, [
  { trackId: 'song', seconds: 2 },
  { trackId: 'song', seconds: 2 },
  { trackId: 'other', seconds: 2 },
])
const [oldSong, song, other] = tracks as [(typeof tracks)[0], (typeof tracks)[0], (typeof tracks)[0]]
const origin = await startTestOrigin(t, dataDir)
const proxy = await startProxy(t, origin.url)
const cachePersist = join(dataDir, 'edge-cache')
const vars = { ORIGIN_URL: proxy.url, ORIGIN_PUBLIC_KEY: origin.keys.publicKey, PURGE_TOKEN, READ_AHEAD: '0' }
let edge = await startEdge(t, vars, { cachePersist })

const manifestOf = async (trackId: string, version: string) => ((await (await fetch(`${origin.url}/v1/tracks/${trackId}/versions/${version}/manifest`)).json()) as { manifest: Manifest }).manifest
const oldPaths = chunkPaths(await manifestOf('song', oldSong.version))
const songPaths = chunkPaths(await manifestOf('song', song.version))
const otherPaths = chunkPaths(await manifestOf('other', other.version))
const purge = (body: unknown, token: string | null = PURGE_TOKEN) =>
  edge.get('/_chorus/purge', { method: 'POST', headers: { 'content-type': 'application/json', ...(token && { authorization: `Bearer ${token}` }) }, body: JSON.stringify(body) })

async function warm(e: TestEdge, paths: string[]) {
  for (const p of paths) {
    const res = await e.get(p)
    if (res.status !== 200) throw new Error(`warming ${p}: ${res.status}`)
    await res.arrayBuffer()
  }
  await until(async () => (await Promise.all(paths.map((p) => inCacheApi(e, p)))).every(Boolean), 'warmed entries in the Cache API')
}

interface PurgeJson {
  purged: { track?: string; chunk?: string; versions?: string[]; memory: number; cache: number }
  incomplete?: unknown
}

t.test('purge is for operators only', async (t) => {
  const none = await purge({ track: 'song' }, null)
  t.equal(none.status, 401)
  t.equal(((await none.json()) as { error: { code: string } }).error.code, 'unauthorized')
  const wrong = await purge({ track: 'song' }, 'not-the-purge-token-at-all')
  t.equal(wrong.status, 401)
  t.equal(((await wrong.json()) as { error: { code: string } }).error.code, 'invalid_token')
  const playToken = await signToken({ sub: 'listener', scope: ['play'], aud: ['edge'] }, origin.keys.tokenSigner)
  const listener = await purge({ track: 'song' }, playToken)
  t.equal(listener.status, 403, "a listener's token lacks the purge scope")
  await listener.arrayBuffer()
  const get = await edge.get('/_chorus/purge')
  t.equal(get.status, 405)
  t.equal(get.headers.get('allow'), 'POST, OPTIONS')
  await get.arrayBuffer()
  for (const body of [{}, { track: 'song', chunk: songPaths[0] }, { track: '../etc' }, { chunk: '/v1/tracks/song' }, { chunk: '/v1/chunks/song/x/96/0' }, []]) {
    const res = await purge(body)
    t.equal(res.status, 400, `bad purge body ${JSON.stringify(body)} -> 400`)
    await res.arrayBuffer()
  }
  const notJson = await edge.get('/_chorus/purge', { method: 'POST', headers: { authorization: `Bearer ${PURGE_TOKEN}` }, body: 'track=song' })
  t.equal(notJson.status, 400)
  await notJson.arrayBuffer()
})

t.test('purging one chunk drops it from both tiers, and nothing else', async (t) => {
  await warm(edge, songPaths.slice(0, 2))
  const res = await purge({ chunk: songPaths[0] })
  t.equal(res.status, 200)
  t.same(((await res.json()) as PurgeJson).purged, { chunk: songPaths[0], memory: 1, cache: 1 })
  t.notOk(await inCacheApi(edge, songPaths[0]!))
  t.ok(await inCacheApi(edge, songPaths[1]!))
  const again = await edge.get(songPaths[0]!)
  t.equal(again.headers.get('x-cache'), 'MISS', 'the purged chunk comes from the origin again')
  await again.arrayBuffer()
  t.equal(proxy.count(songPaths[0]!), 2)
  const neighbour = await edge.get(songPaths[1]!)
  t.equal(neighbour.headers.get('x-cache'), 'HIT-MEMORY')
  await neighbour.arrayBuffer()
})

t.test('purging a track drops every version, chunks and manifests, from both tiers', async (t) => {
  await warm(edge, [...oldPaths, ...songPaths, ...otherPaths.slice(0, 2), '/v1/tracks/song/manifest'])
  const token = await signToken({ sub: 'ops', scope: ['purge'], aud: ['edge'] }, origin.keys.tokenSigner)
  const res = await purge({ track: 'song' }, token)
  t.equal(res.status, 200, 'a purge-scope session token works too')
  const body = (await res.json()) as PurgeJson
  t.same(body.purged.versions, [oldSong.version, song.version].sort())
  const songKeys = [...oldPaths, ...songPaths, manifestPath('song'), manifestPath('song', oldSong.version), manifestPath('song', song.version)]
  t.ok(body.purged.cache >= songKeys.length, `${body.purged.cache} Cache API entries deleted`)
  t.ok(body.purged.memory >= oldPaths.length + songPaths.length, `${body.purged.memory} memory entries deleted`)
  t.notOk(body.incomplete)
  const left = (await Promise.all(songKeys.map(async (p) => ((await inCacheApi(edge, p)) ? p : undefined)))).filter(Boolean)
  t.same(left, [], 'no key of the track is left in the Cache API')
  t.ok(await inCacheApi(edge, otherPaths[0]!), 'the other track is untouched')

  const before = proxy.count(oldPaths[0]!)
  const refetched = await edge.get(oldPaths[0]!)
  t.equal(refetched.headers.get('x-cache'), 'MISS')
  await refetched.arrayBuffer()
  t.equal(proxy.count(oldPaths[0]!), before + 1)
  const kept = await edge.get(otherPaths[0]!)
  t.equal(kept.headers.get('x-cache'), 'HIT-MEMORY')
  await kept.arrayBuffer()
})

t.test('a new isolate purges what an earlier one cached (the version index lives in the Cache API)', async (t) => {
  // Only the old version is cached now (refetched above): nothing in a new isolate's memory,
  // nor the current manifest, names it. Only the index can.
  await warm(edge, oldPaths.slice(0, 3))
  await edge.dispose()
  edge = await startEdge(t, vars, { cachePersist })
  t.ok(await inCacheApi(edge, oldPaths[0]!), 'the new isolate sees the persisted Cache API')
  const res = await purge({ track: 'song' })
  t.equal(res.status, 200)
  const body = (await res.json()) as PurgeJson
  t.ok(body.purged.versions?.includes(oldSong.version), 'the old version was found')
  const left = (await Promise.all(oldPaths.slice(0, 3).map((p) => inCacheApi(edge, p)))).filter(Boolean)
  t.equal(left.length, 0, 'its chunks are gone')
  t.ok(await inCacheApi(edge, otherPaths[0]!))
})
