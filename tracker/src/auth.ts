// Session tokens for the tracker: the origin's EdDSA JWTs for the 'tracker' audience with the
// "announce" scope, checked with the origin's public key (the one that checks manifests), so a
// tracker can verify a token but never mint one. WebCrypto only, so the Node server and the
// Durable Object share it.

import { ProtocolError, importManifestPublicKey, verifyToken } from '../../protocol/index.js'
import type { AuthOutcome } from './core/tracker-core.js'

export type TokenVerifier = (token: string) => Promise<AuthOutcome>

/** `publicKey`: the origin's Ed25519 public key, 32 raw bytes in base64url (`chorus origin --print-public-key`). */
export function createTokenVerifier(publicKey: string, now: () => number = Date.now): TokenVerifier {
  if (typeof publicKey !== 'string' || publicKey.length === 0) throw new TypeError("auth key must be the origin's public key (base64url)")
  const verifier = importManifestPublicKey(publicKey)
  // A bad key is a configuration error: say so at start, not at the first announce.
  verifier.catch(() => undefined)
  return async function verifyAnnounceToken(token) {
    try {
      const claims = await verifyToken(token, await verifier, { now: now(), audience: 'tracker', scope: 'announce' })
      // The core keys bans and the peer limit by `sub`, refuses requests once `exp` has passed,
      // and lets the socket into the swarms of the `tracks` it lists only (absent: every track).
      return { ok: true, sub: claims.sub, exp: claims.exp, ...(claims.tracks !== undefined && { tracks: claims.tracks }) }
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error
      const code = error.code === 'token_expired' || error.code === 'forbidden' ? error.code : 'unauthorized'
      return { ok: false, code, message: error.message }
    }
  }
}
