import t from 'tap'
import { bearerToken, signToken, verifyToken } from '../index.js'

const secret = 'test-secret-with-enough-entropy'
const now = Date.UTC(2026, 10, 21)

t.test('a token verifies with its scopes until it expires', async (t) => {
  const token = await signToken({ sub: 'listener-1', scope: ['play', 'announce'], ttlSec: 60 }, secret, now)
  const claims = await verifyToken(token, secret, { now: now + 1000, scope: 'play' })
  t.equal(claims.sub, 'listener-1')
  t.same(claims.scope, ['play', 'announce'])
  await t.rejects(verifyToken(token, secret, { now: now + 61_000 }), { code: 'token_expired' })
  await t.rejects(verifyToken(token, secret, { now, scope: 'purge' }), { code: 'forbidden' })
  await t.rejects(verifyToken(token, 'another-secret', { now }), { code: 'invalid_token' })
})

t.test('tampered and malformed tokens are invalid, never a crash', async (t) => {
  const token = await signToken({ sub: 'a', scope: ['play'] }, secret, now)
  const [h, p, s] = token.split('.') as [string, string, string]
  const forged = Buffer.from(JSON.stringify({ iss: 'chorus', sub: 'a', iat: now / 1000, exp: now / 1000 + 1e9, scope: 'play purge' })).toString('base64url')
  for (const bad of [`${h}.${forged}.${s}`, `${h}.${p}`, 'x.y.z', '', 'a'.repeat(5000), `${h}.${p}.${s.slice(1)}`, `eyJhbGciOiJub25lIn0.${p}.`]) {
    await t.rejects(verifyToken(bad, secret, { now }), { code: 'invalid_token' }, bad.slice(0, 30))
  }
})

t.test('bearer header parsing', async (t) => {
  t.equal(bearerToken('Bearer abc.def.ghi'), 'abc.def.ghi')
  t.equal(bearerToken('bearer   x'), 'x')
  t.equal(bearerToken('Basic abc'), undefined)
  t.equal(bearerToken(undefined), undefined)
})
