import { generateKeyPairSync } from 'node:crypto'
import { dirname } from 'node:path'
import { Miniflare } from 'miniflare'
import t from 'tap'
import { signToken, toBase64Url } from '../../protocol/index.js'
import { COMPATIBILITY_DATE, bundleWorker, chunkPaths, makeCatalog, signedManifest, startTestOrigin } from '../../test-support/edge.js'

// Two edges in one workerd: one that requires session tokens, one configured with the wrong
// origin key (a valid Ed25519 key, just not the origin's).
const { dataDir } = await makeCatalog(t, [{ trackId: 'song', seconds: 2 }])
const origin = await startTestOrigin(t, dataDir)
const doc = await signedManifest(origin.url, 'song')
const path = chunkPaths(doc.manifest)[0]!
const signer = origin.keys.tokenSigner

const stranger = generateKeyPairSync('ed25519')
const spki = stranger.publicKey.export({ format: 'der', type: 'spki' })
const strangerKey = toBase64Url(new Uint8Array(spki.subarray(spki.length - 32)))
// Another key that claims to be the origin's (same kid): a forger without the origin's private key.
const forger = { key: await crypto.subtle.importKey('pkcs8', stranger.privateKey.export({ format: 'der', type: 'pkcs8' }), { name: 'Ed25519' }, false, ['sign']), keyId: signer.keyId }

const script = await bundleWorker()
const worker = (name: string, bindings: Record<string, string>) => ({ name, modules: true, scriptPath: script, modulesRoot: dirname(script), compatibilityDate: COMPATIBILITY_DATE, bindings })
const mf = new Miniflare({
  workers: [
    worker('locked', { ORIGIN_URL: origin.url, ORIGIN_PUBLIC_KEY: origin.keys.publicKey, REQUIRE_TOKEN: 'true' }),
    worker('wrong-key', { ORIGIN_URL: origin.url, ORIGIN_PUBLIC_KEY: strangerKey }),
  ],
})
t.teardown(() => mf.dispose())
await mf.ready
const locked = await mf.getWorker('locked')
const wrongKey = await mf.getWorker('wrong-key')
const get = async (fetcher: typeof locked, p: string, init?: { method?: string; headers?: Record<string, string>; body?: string }) => {
  const res = await fetcher.fetch(`http://edge.test${p}`, init)
  const text = await res.text()
  return { status: res.status, headers: res.headers, text, json: () => JSON.parse(text) as { error: { code: string; message: string } } }
}

// First, while the Cache API (shared by the Workers of a zone, as here) holds nothing verified yet.
t.test('an edge configured with another key refuses every manifest and so every chunk', async (t) => {
  const manifest = await get(wrongKey, '/v1/tracks/song/manifest')
  t.equal(manifest.status, 502)
  t.equal(manifest.json().error.code, 'integrity_failure')
  t.match(manifest.json().error.message, /signed by unknown key/)
  const chunk = await get(wrongKey, path)
  t.equal(chunk.status, 502)
  t.equal(chunk.json().error.code, 'integrity_failure')
  const stats = JSON.parse((await get(wrongKey, '/_chorus/stats')).text) as { integrityFailures: { manifest: number }; memory: { entries: number } }
  t.equal(stats.integrityFailures.manifest, 2)
  t.equal(stats.memory.entries, 0, 'nothing was cached')
})

t.test('REQUIRE_TOKEN: a chunk needs a valid, unexpired edge session token with the play scope, for its track', async (t) => {
  const none = await get(locked, path)
  t.equal(none.status, 401)
  t.equal(none.json().error.code, 'unauthorized')
  t.match(none.json().error.message, /POST \/v1\/session/)

  const forged = await signToken({ sub: 'mallory', scope: ['play'], aud: ['edge'] }, forger)
  t.equal((await get(locked, path, { headers: { authorization: `Bearer ${forged}` } })).json().error.code, 'invalid_token')
  const garbage = await get(locked, path, { headers: { authorization: 'Bearer abc.def.ghi' } })
  t.equal(garbage.status, 401)

  const expired = await signToken({ sub: 'late', scope: ['play'], aud: ['edge'], ttlSec: 60 }, signer, Date.now() - 3_600_000)
  const old = await get(locked, path, { headers: { authorization: `Bearer ${expired}` } })
  t.equal(old.status, 401)
  t.equal(old.json().error.code, 'token_expired')

  const announceOnly = await signToken({ sub: 'peer', scope: ['announce'], aud: ['edge'] }, signer)
  const wrongScope = await get(locked, path, { headers: { authorization: `Bearer ${announceOnly}` } })
  t.equal(wrongScope.status, 403)
  t.equal(wrongScope.json().error.code, 'forbidden')

  const keysOnly = await signToken({ sub: 'l', scope: ['play'], aud: ['keys'] }, signer)
  const forKeys = await get(locked, path, { headers: { authorization: `Bearer ${keysOnly}` } })
  t.equal(forKeys.status, 403, "the key service's token is not the edge's")
  const otherTrack = await signToken({ sub: 'l', scope: ['play'], aud: ['edge'], tracks: ['other'] }, signer)
  t.equal((await get(locked, path, { headers: { authorization: `Bearer ${otherTrack}` } })).status, 403, 'a token for other tracks gets none of this one')

  // The listener's session comes from the origin; the edge sees only the edge's token of it.
  const session = await fetch(`${origin.url}/v1/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ apiKey: 'k' }) })
  t.equal(session.status, 200)
  const token = ((await session.json()) as { tokens: { edge: string } }).tokens.edge
  for (let i = 0; i < 2; i++) {
    const ok = await get(locked, path, { headers: { authorization: `Bearer ${token}` } })
    t.equal(ok.status, 200)
    t.equal(ok.headers.get('x-cache'), i === 0 ? 'MISS' : 'HIT-MEMORY')
  }
  const cachedButNoToken = await get(locked, path)
  t.equal(cachedButNoToken.status, 401, 'a cached chunk is no less protected')

  const manifest = await get(locked, '/v1/tracks/song/manifest')
  t.equal(manifest.status, 200, 'manifests stay open: they hold no secret')
})
