import { type ManifestVerifier, ProtocolError, type Scope, bearerToken, utf8, verifyToken } from '../../protocol/index.js'

/**
 * Who may do what at the edge: listeners with a 'play' session token for the edge (when
 * REQUIRE_TOKEN is on) and operators with the purge secret or a 'purge' session token. Tokens are
 * checked with the origin's public key (ORIGIN_PUBLIC_KEY, which also checks manifests): the
 * edge can verify a token but not mint one. Tokens that verified once are remembered until they
 * expire: a signature check per chunk request would cost more than serving a hit.
 */
export interface AccessOptions {
  verifier: ManifestVerifier
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
  const { verifier, purgeToken, now } = options
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
    /** For chunk requests when REQUIRE_TOKEN is on. */
    async requirePlay(authorization: string | null, trackId: string): Promise<void> {
      const token = bearerToken(authorization)
      if (!token) throw new ProtocolError('unauthorized', "this edge needs a session token: Authorization: Bearer <the session's edge token> with the 'play' scope (POST /v1/session)")
      await check(token, 'play', trackId)
    },

    async requirePurge(authorization: string | null): Promise<void> {
      const token = bearerToken(authorization)
      if (!token) throw new ProtocolError('unauthorized', "purge needs Authorization: Bearer <PURGE_TOKEN or an edge session token with the 'purge' scope>")
      if (purgeToken !== undefined && sameSecret(token, purgeToken)) return
      await check(token, 'purge')
    },
  }
}

export type Access = ReturnType<typeof createAccess>
