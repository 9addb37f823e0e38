import { generateKeyPairSync } from 'node:crypto'
import t from 'tap'
import { type TokenSigner, bearerToken, importManifestPublicKey, signToken, toBase64Url, verifyToken } from '../index.js'

/** An origin's key pair as services see it: the signer stays at the origin, the verifier goes everywhere. */
async function origin() {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519')
  const spki = publicKey.export({ format: 'der', type: 'spki' })
  const verifier = await importManifestPublicKey(toBase64Url(new Uint8Array(spki.subarray(spki.length - 32))))
  const key = await crypto.subtle.importKey('pkcs8', privateKey.export({ format: 'der', type: 'pkcs8' }), { name: 'Ed25519' }, false, ['sign'])
  const signer: TokenSigner = { key, keyId: verifier.keyId }
  return { signer, verifier }
}

const now = 1_800_000_000_000
const { signer, verifier } = await origin()

t.test('a token verifies with the public key, for its audience, scope and tracks only', async (t) => {
  const token = await signToken({ sub: 'listener-1', scope: ['play', 'announce'], aud: ['keys'], tracks: ['demo-01'], ttlSec: 60 }, signer, now)
  const claims = await verifyToken(token, verifier, { now: now + 1000, audience: 'keys', scope: 'play', track: 'demo-01' })
  t.match(claims, { sub: 'listener-1', scope: ['play', 'announce'], aud: ['keys'], tracks: ['demo-01'] })
  await t.rejects(verifyToken(token, verifier, { now: now + 61_000, audience: 'keys' }), { code: 'token_expired' })
  // A renewal may prove an expired session within a grace period, and no longer.
  t.equal((await verifyToken(token, verifier, { now: now + 61_000, audience: 'keys', graceSec: 60 })).sub, claims.sub)
  await t.rejects(verifyToken(token, verifier, { now: now + 121_000, audience: 'keys', graceSec: 60 }), { code: 'token_expired' })
  await t.rejects(verifyToken(token, verifier, { now, audience: 'keys', scope: 'purge' }), { code: 'forbidden' })
  await t.rejects(verifyToken(token, verifier, { now, audience: 'edge' }), { code: 'forbidden' }, 'a token for the key service is no good at an edge')
  await t.rejects(verifyToken(token, verifier, { now, audience: 'keys', track: 'demo-02' }), { code: 'forbidden' }, 'nor for another track')
  const other = await origin()
  await t.rejects(verifyToken(token, other.verifier, { now, audience: 'keys' }), { code: 'invalid_token' }, "another origin's key refuses it")
  const all = await signToken({ sub: 'x', scope: ['play'], aud: ['edge'] }, signer, now)
  t.ok(await verifyToken(all, verifier, { now, audience: 'edge', track: 'anything' }), 'no tracks claim: every track')
})

t.test('tampered, malformed and re-spelled tokens are invalid, never a crash', async (t) => {
  const token = await signToken({ sub: 'a', scope: ['play'], aud: ['keys'] }, signer, now)
  const [h, p, s] = token.split('.') as [string, string, string]
  const forged = Buffer.from(JSON.stringify({ iss: 'chorus', sub: 'a', iat: now / 1000, exp: now / 1000 + 1e9, scope: 'play purge', aud: ['keys', 'edge'] })).toString('base64url')
  // The last character of a 64-byte signature carries 4 unused bits: a second spelling of the same bytes.
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
  const last = alphabet.indexOf(s.at(-1)!)
  const respelled = `${s.slice(0, -1)}${alphabet[(last & ~3) | ((last & 3) ^ 1)]}`
  t.same(Buffer.from(respelled, 'base64url'), Buffer.from(s, 'base64url'), 'the re-spelled signature decodes to the same bytes')
  for (const bad of [`${h}.${forged}.${s}`, `${h}.${p}`, 'x.y.z', '', 'a'.repeat(9000), `${h}.${p}.${s.slice(1)}`, `eyJhbGciOiJub25lIn0.${p}.`, `${h}.${p}.${respelled}`]) {
    await t.rejects(verifyToken(bad, verifier, { now, audience: 'keys' }), { code: 'invalid_token' }, bad.slice(0, 30))
  }
})

t.test('bearer header parsing', async (t) => {
  t.equal(bearerToken('Bearer abc.def.ghi'), 'abc.def.ghi')
  t.equal(bearerToken('bearer   x'), 'x')
  t.equal(bearerToken('Basic abc'), undefined)
  t.equal(bearerToken(undefined), undefined)
})
