import { ProtocolError } from './errors.js'
import { fromBase64Url, toArrayBuffer, toBase64Url, utf8 } from './encoding.js'

/**
 * Session tokens: compact JWTs (HS256) so any JWT tool can read them. Short-lived; the origin
 * issues them, and the key service, the tracker and the edge verify them with a shared secret.
 */
export type Scope = 'play' | 'announce' | 'purge'
export const SCOPES: readonly Scope[] = ['play', 'announce', 'purge']
export const DEFAULT_TOKEN_TTL_SEC = 3600
/** Clocks of different machines disagree a little; a token is not "from the future" within this. */
const CLOCK_SKEW_SEC = 30

export interface TokenClaims {
  iss: 'chorus'
  sub: string
  /** Seconds since the epoch, as in JWT. */
  iat: number
  exp: number
  scope: Scope[]
}

const HEADER = toBase64Url(utf8.encode(JSON.stringify({ alg: 'HS256', typ: 'JWT' })))
const keys = new Map<string, Promise<CryptoKey>>()

function hmacKey(secret: string): Promise<CryptoKey> {
  let key = keys.get(secret)
  if (key === undefined) {
    key = crypto.subtle.importKey('raw', toArrayBuffer(utf8.encode(secret)), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify'])
    if (keys.size > 16) keys.clear()
    keys.set(secret, key)
  }
  return key
}

export async function signToken(claims: { sub: string; scope: Scope[]; ttlSec?: number }, secret: string, now: number = Date.now()): Promise<string> {
  const iat = Math.floor(now / 1000)
  const body: TokenClaims = { iss: 'chorus', sub: claims.sub, iat, exp: iat + (claims.ttlSec ?? DEFAULT_TOKEN_TTL_SEC), scope: [...claims.scope] }
  const payload = toBase64Url(utf8.encode(JSON.stringify({ ...body, scope: body.scope.join(' ') })))
  const signed = `${HEADER}.${payload}`
  const mac = await crypto.subtle.sign('HMAC', await hmacKey(secret), toArrayBuffer(utf8.encode(signed)))
  return `${signed}.${toBase64Url(new Uint8Array(mac))}`
}

const invalid = (why: string) => new ProtocolError('invalid_token', `invalid session token: ${why}`)

/** Verifies signature, expiry and (when given) scope. `now` is in milliseconds. */
export async function verifyToken(token: string, secret: string, opts: { now: number; scope?: Scope }): Promise<TokenClaims> {
  if (typeof token !== 'string' || token.length > 4096) throw invalid('not a token')
  const parts = token.split('.')
  if (parts.length !== 3) throw invalid('not a JWT')
  const [header, payload, mac] = parts as [string, string, string]
  if (header !== HEADER) throw invalid('unsupported header (HS256 JWT expected)')
  let macBytes: Uint8Array
  let claims: Record<string, unknown>
  try {
    macBytes = fromBase64Url(mac)
    claims = JSON.parse(utf8.decode(fromBase64Url(payload))) as Record<string, unknown>
  } catch {
    throw invalid('malformed')
  }
  const ok = await crypto.subtle.verify('HMAC', await hmacKey(secret), toArrayBuffer(macBytes), toArrayBuffer(utf8.encode(`${header}.${payload}`)))
  if (!ok) throw invalid('bad signature')
  const { sub, iat, exp, scope } = claims
  if (typeof sub !== 'string' || typeof iat !== 'number' || typeof exp !== 'number' || typeof scope !== 'string') throw invalid('missing claims')
  const nowSec = opts.now / 1000
  if (exp <= nowSec) throw new ProtocolError('token_expired', 'session token expired: ask for a new one (POST /v1/session)')
  if (iat > nowSec + CLOCK_SKEW_SEC) throw invalid('issued in the future')
  const scopes = scope.split(' ').filter((s): s is Scope => (SCOPES as readonly string[]).includes(s))
  if (opts.scope !== undefined && !scopes.includes(opts.scope)) {
    throw new ProtocolError('forbidden', `session token lacks the '${opts.scope}' scope`)
  }
  return { iss: 'chorus', sub, iat, exp, scope: scopes }
}

/** Reads a bearer token from an Authorization header value. */
export function bearerToken(header: string | null | undefined): string | undefined {
  if (!header) return undefined
  const match = /^Bearer\s+(\S+)$/i.exec(header.trim())
  return match?.[1]
}
