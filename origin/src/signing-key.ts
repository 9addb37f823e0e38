import { type ManifestVerifier, type TokenSigner, fromBase64Url, importManifestPublicKey, publicKeyId, toArrayBuffer } from '../../protocol/index.js'

/**
 * The origin's secret: the Ed25519 key that signs manifests and session tokens (edges and
 * trackers verify both with the public key, and cannot sign either). WebCrypto only, so the Node
 * origin (keys.ts finds the key in a file or the environment) and the origin Worker (a secret)
 * import it the same way.
 */
export interface OriginKeys {
  /** Raw 32-byte public key, base64url: the value edges and players are configured with. */
  publicKey: string
  keyId: string
  signer: CryptoKey
  /** The same key, as session tokens are signed with it: services verify tokens with publicKey. */
  tokenSigner: TokenSigner
  /** The public key, imported: what the key service checks its own tokens with. */
  verifier: ManifestVerifier
}

/** Imports an Ed25519 private key (PKCS#8 DER) and derives everything the origin signs and checks with. */
export async function originKeysFromPkcs8(pkcs8: Uint8Array): Promise<OriginKeys> {
  // The public key is derived from the private one rather than taken from a stored copy that
  // could disagree with it: an extractable import exports it as the JWK's `x`.
  const extractable = await crypto.subtle.importKey('pkcs8', toArrayBuffer(pkcs8), { name: 'Ed25519' }, true, ['sign'])
  // A JWK, as asked ('jwk'); the Workers types return a union of both export forms.
  const jwk = (await crypto.subtle.exportKey('jwk', extractable)) as JsonWebKey
  if (typeof jwk.x !== 'string') throw new Error('not an Ed25519 private key')
  const publicKey = jwk.x.replace(/=+$/, '')
  const signer = await crypto.subtle.importKey('pkcs8', toArrayBuffer(pkcs8), { name: 'Ed25519' }, false, ['sign'])
  const keyId = await publicKeyId(fromBase64Url(publicKey))
  return { publicKey, keyId, signer, tokenSigner: { key: signer, keyId }, verifier: await importManifestPublicKey(publicKey) }
}

/** The same, from the base64url text form (CHORUS_SIGNING_KEY); a clear error names the variable. */
export async function originKeysFromText(text: string, name = 'CHORUS_SIGNING_KEY'): Promise<OriginKeys> {
  let pkcs8: Uint8Array
  try {
    pkcs8 = fromBase64Url(text.trim())
    return await originKeysFromPkcs8(pkcs8)
  } catch {
    throw new Error(`${name} must be an Ed25519 PKCS#8 private key in base64url`)
  }
}
