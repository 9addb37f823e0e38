import { type ManifestVerifier, ProtocolError, type Scope, bearerToken, sameSecret, verifyToken } from '../../protocol/index.js'

/**
 * Who may do what at the edge: listeners with a 'play' session token for the edge (when
 * REQUIRE_TOKEN is on) and operators with the operator token (OPERATOR_TOKEN, or PURGE_TOKEN)
 * or, for purge only, a 'purge' session token. Tokens are
 * checked with the origin's public key (ORIGIN_PUBLIC_KEY, which also checks manifests): the
 * edge can verify a token but not mint one. Tokens that verified once are remembered until they
 * expire: a signature check per chunk request would cost more than serving a hit.
 */
export interface AccessOptions {
  verifier: ManifestVerifier
  /** Empty: no operator token configured. */
  operatorTokens: readonly string[]
  now: () => number
}

const REMEMBERED = 4096

/** The edge's checks; each resolves (or returns) when allowed and throws a ProtocolError (`unauthorized`, `invalid_token`, ...) when not. */
export interface Access {
  /** For chunk requests when REQUIRE_TOKEN is on: a session token for the edge with the 'play' scope, covering `trackId`. */
  requirePlay(authorization: string | null, trackId: string): Promise<void>
  /** Purge: the operator token (compared in constant time), or a session token with the 'purge' scope. */
  requirePurge(authorization: string | null): Promise<void>
  /**
   * Stats and metrics: open when no operator token is configured (a developer's own machine),
   * else only to the operator token: they hold no secret, but they show how the edge is set up and what it serves.
   */
  requireOperator(authorization: string | null): void
}

export function createAccess(options: AccessOptions): Access {
  const { verifier, operatorTokens, now } = options
  // Every configured token is compared, match or not, so the time taken says nothing about which.
  const isOperator = (token: string) => operatorTokens.reduce((ok, secret) => sameSecret(token, secret) || ok, false)
  /** token -> what it was verified for: its scopes, its tracks (undefined: all), until when. */
  const verified = new Map<string, { scope: Scope[]; tracks: string[] | undefined; until: number }>()

  async function check(token: string, scope: Scope, track?: string): Promise<void> {
    const known = verified.get(token)
    if (known && known.until > now() && known.scope.includes(scope) && (track === undefined || known.tracks === undefined || known.tracks.includes(track))) return
    const claims = await verifyToken(token, verifier, { now: now(), audience: 'edge', scope, ...(track !== undefined && { track }) })
    if (verified.size >= REMEMBERED) verified.clear()
    verified.set(token, { scope: claims.scope, tracks: claims.tracks, until: claims.exp * 1000 })
  }

  return {
    async requirePlay(authorization: string | null, trackId: string): Promise<void> {
      const token = bearerToken(authorization)
      if (!token)
        throw new ProtocolError(
          'unauthorized',
          "this edge needs a session token: Authorization: Bearer <the session's edge token> with the 'play' scope (POST /v1/session at the key service, the origin)",
        )
      await check(token, 'play', trackId)
    },

    async requirePurge(authorization: string | null): Promise<void> {
      const token = bearerToken(authorization)
      if (!token) throw new ProtocolError('unauthorized', "purge needs Authorization: Bearer <the operator token, or an edge session token with the 'purge' scope>")
      if (isOperator(token)) return
      await check(token, 'purge')
    },

    requireOperator(authorization: string | null): void {
      if (operatorTokens.length === 0) return
      const token = bearerToken(authorization)
      if (!token) throw new ProtocolError('unauthorized', 'an operator endpoint: send Authorization: Bearer <operator token> (OPERATOR_TOKEN; `chorus edge` reads CHORUS_OPERATOR_TOKEN)')
      if (!isOperator(token)) throw new ProtocolError('invalid_token', 'not the operator token')
    },
  }
}
