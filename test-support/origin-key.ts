import { generateKeyPairSync } from 'node:crypto'
import { type TokenRequest, type TokenSigner, publicKeyId, signToken, toBase64Url } from '../protocol/index.js'

/**
 * An origin's Ed25519 identity for tests that need tokens without running an origin: the public
 * key services are configured with, and a signer for tokens (with the same kid as the real one).
 */
export interface TestOriginKey {
  publicKey: string
  signer: TokenSigner
  token(request: Partial<TokenRequest> & { sub: string }, now?: number): Promise<string>
}

export async function testOriginKey(): Promise<TestOriginKey> {
  const pair = generateKeyPairSync('ed25519')
  const spki = pair.publicKey.export({ format: 'der', type: 'spki' })
  const raw = new Uint8Array(spki.subarray(spki.length - 32))
  const key = await crypto.subtle.importKey('pkcs8', pair.privateKey.export({ format: 'der', type: 'pkcs8' }), { name: 'Ed25519' }, false, ['sign'])
  const signer: TokenSigner = { key, keyId: await publicKeyId(raw) }
  return {
    publicKey: toBase64Url(raw),
    signer,
    token: (request, now) => signToken({ scope: ['announce'], aud: ['tracker'], ...request }, signer, now),
  }
}

/** A key that claims the same kid as `real`: tokens from it are forgeries. */
export async function forgerOf(real: TestOriginKey): Promise<TestOriginKey> {
  const other = await testOriginKey()
  const signer = { key: other.signer.key, keyId: real.signer.keyId }
  return { publicKey: other.publicKey, signer, token: (request, now) => signToken({ scope: ['announce'], aud: ['tracker'], ...request }, signer, now) }
}
