// Session tokens for the tracker: scope "announce", checked with the shared secret. WebCrypto
// only, so the Node server and the Durable Object share it.

import { ProtocolError, verifyToken } from '../../protocol/index.js'
import type { AuthOutcome } from './core/tracker-core.js'

export type TokenVerifier = (token: string) => Promise<AuthOutcome>

export function createTokenVerifier(secret: string, now: () => number = Date.now): TokenVerifier {
  if (typeof secret !== 'string' || secret.length === 0) throw new TypeError('auth secret must be a non-empty string')
  return async function verifyAnnounceToken(token) {
    try {
      const claims = await verifyToken(token, secret, { now: now(), scope: 'announce' })
      // The core keys bans by `sub` and refuses requests once `exp` has passed.
      return { ok: true, sub: claims.sub, exp: claims.exp }
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error
      const code = error.code === 'token_expired' || error.code === 'forbidden' ? error.code : 'unauthorized'
      return { ok: false, code, message: error.message }
    }
  }
}
