import t from 'tap'
import type { Test } from 'tap'
import { chunkPaths, makeCatalog, signedManifest, startEdge, startProxy, startTestOrigin } from '../../test-support/edge.js'
import type { TestEdge } from '../../test-support/edge.js'

// Operator endpoints (stats, metrics, purge) answer only to the operator token when one is
// configured: OPERATOR_TOKEN, or PURGE_TOKEN, its older name. Health stays public and says
// nothing about the origin; neither do stats.
const OPERATOR_TOKEN = 'operator-token-for-the-operator-test'
const PURGE_TOKEN = 'older-purge-token-for-the-operator-test'
const { dataDir } = await makeCatalog(t, [{ trackId: 'song', seconds: 2 }])
const origin = await startTestOrigin(t, dataDir)
const proxy = await startProxy(t, origin.url)
const vars = { ORIGIN_URL: proxy.url, ORIGIN_PUBLIC_KEY: origin.keys.publicKey, READ_AHEAD: '0' }
const guarded = await startEdge(t, { ...vars, OPERATOR_TOKEN })
const legacy = await startEdge(t, { ...vars, PURGE_TOKEN })
const open = await startEdge(t, vars)
const doc = await signedManifest(origin.url, 'song')
const path = chunkPaths(doc.manifest)[0]!
const proxyHost = new URL(proxy.url).host

const bearer = (token: string | undefined): RequestInit => (token ? { headers: { authorization: `Bearer ${token}` } } : {})

async function expect401(t: Test, edge: TestEdge, route: string, init: RequestInit, code: string) {
  const res = await edge.get(route, init)
  t.equal(res.status, 401, `${init.method ?? 'GET'} ${route} -> 401`)
  t.match(res.headers.get('content-type'), /application\/json/)
  const body = (await res.json()) as { error: { code: string; message: string } }
  t.equal(body.error.code, code)
  t.notOk(JSON.stringify(body).includes(proxyHost), 'the refusal names no origin')
}

const purge = (token: string | undefined) => ({
  method: 'POST',
  headers: { 'content-type': 'application/json', ...(token && { authorization: `Bearer ${token}` }) },
  body: JSON.stringify({ chunk: path }),
})

t.test('with OPERATOR_TOKEN, stats, metrics and purge need it: 401 JSON without it or with another', async (t) => {
  for (const route of ['/_chorus/stats', '/_chorus/metrics']) {
    await expect401(t, guarded, route, {}, 'unauthorized')
    await expect401(t, guarded, route, bearer('not-the-operator-token-at-all'), 'invalid_token')
    await expect401(t, guarded, route, bearer(OPERATOR_TOKEN.slice(0, -1)), 'invalid_token')
    await expect401(t, guarded, route, { headers: { authorization: OPERATOR_TOKEN } }, 'unauthorized')
    const ok = await guarded.get(route, bearer(OPERATOR_TOKEN))
    t.equal(ok.status, 200, `${route} with the token -> 200`)
    await ok.arrayBuffer()
  }
  await expect401(t, guarded, '/_chorus/purge', purge(undefined), 'unauthorized')
  await expect401(t, guarded, '/_chorus/purge', purge('not-the-operator-token-at-all'), 'invalid_token')
  const ok = await guarded.get('/_chorus/purge', purge(OPERATOR_TOKEN))
  t.equal(ok.status, 200)
  await ok.arrayBuffer()
})

t.test('PURGE_TOKEN alone is the operator token (the older name)', async (t) => {
  await expect401(t, legacy, '/_chorus/stats', {}, 'unauthorized')
  await expect401(t, legacy, '/_chorus/metrics', bearer(OPERATOR_TOKEN), 'invalid_token')
  const stats = await legacy.get('/_chorus/stats', bearer(PURGE_TOKEN))
  t.equal(stats.status, 200)
  await stats.arrayBuffer()
  const ok = await legacy.get('/_chorus/purge', purge(PURGE_TOKEN))
  t.equal(ok.status, 200)
  await ok.arrayBuffer()
})

t.test('stats never reveal the origin URL, token or no token; health is public and minimal', async (t) => {
  // Something served first, so the stats have origin figures to show.
  for (const edge of [guarded, open]) {
    const res = await edge.get(path)
    t.equal(res.status, 200)
    await res.arrayBuffer()
  }
  for (const [name, edge, token] of [
    ['guarded', guarded, OPERATOR_TOKEN],
    ['open', open, undefined],
  ] as const) {
    const res = await edge.get('/_chorus/stats', bearer(token))
    t.equal(res.status, 200, `${name}: stats answer`)
    const text = await res.text()
    const stats = JSON.parse(text) as { config: Record<string, unknown>; origin: { requests: number } }
    t.ok(stats.origin.requests >= 1, `${name}: origin figures are there`)
    t.notOk(text.includes(proxyHost), `${name}: no origin host:port in the stats`)
    t.notOk(text.includes(proxy.url), `${name}: no origin URL`)
    t.notOk('originUrl' in stats.config)
    t.notOk(text.includes(OPERATOR_TOKEN), `${name}: no token`)
    t.equal(stats.config.operatorToken, token ? 'set' : 'unset')
    const metrics = await (await edge.get('/_chorus/metrics', bearer(token))).text()
    t.notOk(metrics.includes(proxyHost), `${name}: no origin in the metrics`)

    const health = await edge.get('/healthz')
    t.equal(health.status, 200, `${name}: health needs no token`)
    t.same(await health.json(), { ok: true })
  }
  const key = await guarded.get('/v1/origin-key')
  t.equal(key.status, 200, 'the public key a player verifies with stays public')
  t.equal(((await key.json()) as { publicKey: string }).publicKey, origin.keys.publicKey)
})

t.test('without a token configured, stats and metrics stay open (a developer machine)', async (t) => {
  const res = await open.get('/_chorus/metrics')
  t.equal(res.status, 200)
  await res.arrayBuffer()
  // Purge is never open: it takes a purge-scope session token when no operator token is set.
  await expect401(t, open, '/_chorus/purge', purge(undefined), 'unauthorized')
})
