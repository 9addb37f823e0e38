// The key service client (src/key-service.ts) against a fake service: one token per service,
// renewed before it expires (renewing the session, so the origin keeps its subject), a new session on demand, and key answers
// checked against what was asked.

import t from 'tap'
import { toBase64Url } from '../../protocol/index.js'
import { createKeyService, tokenExpiry } from '../src/key-service.js'

const jwt = (claims: Record<string, unknown>) => `h.${toBase64Url(new TextEncoder().encode(JSON.stringify(claims)))}.s`

function fakeService(ttlMs: number) {
  const bodies: Array<Record<string, unknown>> = []
  let n = 0
  const fetch: typeof globalThis.fetch = async (input, init) => {
    const url = new URL(String(input))
    if (url.pathname === '/v1/session') {
      bodies.push(JSON.parse(String(init?.body)))
      n++
      const expiresAt = new Date(Date.now() + ttlMs).toISOString()
      return Response.json({ token: `keys-${n}`, tokens: { keys: `keys-${n}`, edge: `edge-${n}`, tracker: `tracker-${n}` }, expiresAt })
    }
    if (url.pathname === '/v1/tracks/a/key') {
      // Answers for another version than asked when one was asked: a hostile or confused service.
      return Response.json({ trackId: 'a', version: 'v2', key: toBase64Url(new Uint8Array(16)) })
    }
    return new Response('{}', { status: 404 })
  }
  return { fetch, bodies }
}

t.test('tokens per service, renewed before expiry, fresh on demand', async (t) => {
  const svc = fakeService(4000)
  const keys = createKeyService({ base: 'http://keys.test', fetch: svc.fetch, apiKey: 'k' })
  const a = await keys.tokens()
  t.match(a, { keys: 'keys-1', edge: 'edge-1', tracker: 'tracker-1' })
  t.equal(keys.edgeToken(), 'edge-1')
  t.equal((await keys.tokens()).keys, 'keys-1', 'held while good')
  t.equal((await keys.tokens({ fresh: true })).tracker, 'tracker-2', 'a new session when a service refused the last')
  await new Promise((r) => setTimeout(r, 3100))
  t.equal((await keys.tokens()).tracker, 'tracker-3', 'renewed a quarter of its life before it expires')
  t.same(
    svc.bodies.map((b) => b.renew),
    [undefined, 'keys-1', 'keys-2'],
    'every later session renews the one before (so the origin keeps its subject)',
  )
})

t.test("an app's own token serves every service and its expiry is read from it", async (t) => {
  const token = jwt({ sub: 'x', exp: 2_000_000_000 })
  t.equal(tokenExpiry(token), 2_000_000_000_000)
  t.equal(tokenExpiry('opaque'), Number.POSITIVE_INFINITY)
  const keys = createKeyService({ base: 'http://keys.test', fetch: fakeService(1000).fetch, token })
  t.match(await keys.tokens(), { keys: token, edge: token, tracker: token })
})

t.test('a key answer for another version than asked is refused', async (t) => {
  const keys = createKeyService({ base: 'http://keys.test', fetch: fakeService(60_000).fetch, apiKey: 'k' })
  await t.rejects(keys.trackKey('a', 'v1'), { code: 'no_key', message: /version v2/ })
  t.equal((await keys.currentKey('a')).version, 'v2', 'the current version is whatever the service says')
})

t.test('boarding: a current key asked now rides in the session request until it leaves', async (t) => {
  const svc = fakeService(60_000)
  const keys = createKeyService({ base: 'http://keys.test', fetch: svc.fetch, apiKey: 'k' })
  t.equal(keys.boarding('a'), true, 'no session yet: asking starts one, which waits a turn for riders')
  const session = keys.tokens()
  t.equal(keys.boarding('a'), true, 'the request has not left')
  await session
  t.equal(keys.boarding('a'), false, 'a session is held: a key goes on its own')
  t.equal(createKeyService({ base: 'http://keys.test', fetch: svc.fetch, token: 'app' }).boarding('a'), false, "an app's own token: no session to ride in")
})
