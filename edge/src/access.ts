import { ProtocolError, type Scope, bearerToken, utf8, verifyToken } from '../../protocol/index.js'

/**
 * Who may do what at the edge: listeners with a 'play' session token (when REQUIRE_TOKEN is on)
 * and operators with the purge secret or a 'purge' session token. Tokens that verified once are
 * remembered until they expire: an HMAC per chunk request would cost more than serving a hit.
 */
export interface AccessOptions {
  tokenSecret: string | undefined
  purgeToken: string | undefined
  now: () => number
}

const REMEMBERED = 4096

/** Compares two secrets in time that depends on their lengths only. */
function sameSecret(a: string, b: string): boolean {
  const x = utf8.encode(a)
  const y = utf8.encode(b)
  let diff = x.length ^ y.length
  for (let i = 0; i < x.length; i++) diff |= x[i]! ^ (y[i % Math.max(1, y.length)] ?? 0)
  return diff === 0
}

export function createAccess(options: AccessOptions) {
  const { tokenSecret, purgeToken, now } = options
  const verified = new Map<string, number>()

  async function check(token: string, scope: Scope): Promise<void> {
    const key = `${scope} ${token}`
    const until = verified.get(key)
    if (until !== undefined && until > now()) return
    if (tokenSecret === undefined) throw new ProtocolError('unauthorized', 'this edge has no TOKEN_SECRET, so it cannot check session tokens')
    const claims = await verifyToken(token, tokenSecret, { now: now(), scope })
    if (verified.size >= REMEMBERED) verified.clear()
    verified.set(key, claims.exp * 1000)
  }

  return {
    /** For chunk requests when REQUIRE_TOKEN is on. */
    async requirePlay(authorization: string | null): Promise<void> {
      const token = bearerToken(authorization)
      if (!token) throw new ProtocolError('unauthorized', "this edge needs a session token: Authorization: Bearer <token> with the 'play' scope (POST /v1/session)")
      await check(token, 'play')
    },

    async requirePurge(authorization: string | null): Promise<void> {
      if (purgeToken === undefined && tokenSecret === undefined) {
        throw new ProtocolError('forbidden', 'purge is off: set PURGE_TOKEN or TOKEN_SECRET on the edge')
      }
      const token = bearerToken(authorization)
      if (!token) throw new ProtocolError('unauthorized', "purge needs Authorization: Bearer <PURGE_TOKEN or a session token with the 'purge' scope>")
      if (purgeToken !== undefined && sameSecret(token, purgeToken)) return
      if (tokenSecret === undefined) throw new ProtocolError('invalid_token', 'wrong purge token')
      await check(token, 'purge')
    },
  }
}

export type Access = ReturnType<typeof createAccess>
