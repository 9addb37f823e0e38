import { ProtocolError } from './errors.js'
import { fromBase64Url, toArrayBuffer, toBase64Url, utf8 } from './encoding.js'

/**
 * Session tokens: compact JWTs signed with the origin's Ed25519 key (EdDSA), so any JWT tool can
 * read them and every service verifies them with the origin's public key, which it already has
 * for manifests: no edge or tracker holds the power to mint one. Each token names the services it
 * is for (`aud`): a token an edge sees is no good at the key service, and the reverse. An optional
 * `tracks` list narrows it to some tracks. Short-lived; the origin issues them.
 */
export type Scope = 'play' | 'announce' | 'purge'
export const SCOPES: readonly Scope[] = ['play', 'announce', 'purge']
/** The services a token can be for: the key service (the origin today), edges, trackers. */
export type Audience = 'keys' | 'edge' | 'tracker'
export const AUDIENCES: readonly Audience[] = ['keys', 'edge', 'tracker']
export const DEFAULT_TOKEN_TTL_SEC = 3600
/** Clocks of different machines disagree a little; a token is not "from the future" within this. */
const CLOCK_SKEW_SEC = 30
const MAX_TRACKS = 256

export interface TokenClaims {
  iss: 'chorus'
  sub: string
  /** Seconds since the epoch, as in JWT. */
  iat: number
  exp: number
  scope: Scope[]
  aud: Audience[]
  /** The tracks it covers; absent: every track. */
  tracks?: string[]
}

/** The origin's signing key as tokens need it. */
export interface TokenSigner {
  key: CryptoKey
  keyId: string
}

export interface TokenRequest {
  sub: string
  scope: Scope[]
  aud: Audience[]
  tracks?: string[]
  ttlSec?: number
}

const headerFor = (keyId: string) => toBase64Url(utf8.encode(JSON.stringify({ alg: 'EdDSA', kid: keyId, typ: 'JWT' })))

export async function signToken(request: TokenRequest, signer: TokenSigner, now: number = Date.now()): Promise<string> {
  const iat = Math.floor(now / 1000)
  const body = {
    iss: 'chorus',
    sub: request.sub,
    iat,
    exp: iat + (request.ttlSec ?? DEFAULT_TOKEN_TTL_SEC),
    scope: request.scope.join(' '),
    aud: [...request.aud],
    ...(request.tracks && { tracks: [...request.tracks] }),
  }
  const signed = `${headerFor(signer.keyId)}.${toBase64Url(utf8.encode(JSON.stringify(body)))}`
  const signature = await crypto.subtle.sign({ name: 'Ed25519' }, signer.key, toArrayBuffer(utf8.encode(signed)))
  return `${signed}.${toBase64Url(new Uint8Array(signature))}`
}

const invalid = (why: string) => new ProtocolError('invalid_token', `invalid session token: ${why}`)

/** base64url with exactly one spelling: the unused low bits of the last character must be zero. */
function decodeCanonical(part: string): Uint8Array {
  const bytes = fromBase64Url(part)
  if (toBase64Url(bytes) !== part) throw invalid('not canonical base64url')
  return bytes
}

export interface VerifyTokenOptions {
  /** Milliseconds since the epoch. */
  now: number
  /** The service checking: the token must name it. */
  audience: Audience
  scope?: Scope
  /** The track asked for, when the request is for one: the token must cover it. */
  track?: string
  /** Accept a token expired no longer ago than this (a session renewal proving the one before). */
  graceSec?: number
}

/** Verifies the signature with the origin's public key, then audience, expiry, scope and track. */
export async function verifyToken(token: string, verifier: { key: CryptoKey; keyId: string }, opts: VerifyTokenOptions): Promise<TokenClaims> {
  if (typeof token !== 'string' || token.length > 8192) throw invalid('not a token')
  const parts = token.split('.')
  if (parts.length !== 3) throw invalid('not a JWT')
  const [header, payload, signature] = parts as [string, string, string]
  if (header !== headerFor(verifier.keyId)) throw invalid("unsupported header (an EdDSA JWT of this origin's key expected)")
  let signatureBytes: Uint8Array
  let claims: Record<string, unknown>
  try {
    signatureBytes = decodeCanonical(signature)
    claims = JSON.parse(utf8.decode(decodeCanonical(payload))) as Record<string, unknown>
  } catch (err) {
    if (err instanceof ProtocolError) throw err
    throw invalid('malformed')
  }
  if (signatureBytes.length !== 64) throw invalid('bad signature')
  const ok = await crypto.subtle.verify({ name: 'Ed25519' }, verifier.key, toArrayBuffer(signatureBytes), toArrayBuffer(utf8.encode(`${header}.${payload}`)))
  if (!ok) throw invalid('bad signature')
  const { sub, iat, exp, scope, aud, tracks } = claims
  if (typeof sub !== 'string' || typeof iat !== 'number' || typeof exp !== 'number' || typeof scope !== 'string' || !Array.isArray(aud)) throw invalid('missing claims')
  if (tracks !== undefined && (!Array.isArray(tracks) || tracks.length > MAX_TRACKS || !tracks.every((x) => typeof x === 'string'))) throw invalid('tracks must be a list of track ids')
  const audiences = aud.filter((a): a is Audience => (AUDIENCES as readonly unknown[]).includes(a))
  if (!audiences.includes(opts.audience)) throw new ProtocolError('forbidden', `session token is not for the ${opts.audience} service (it is for: ${audiences.join(', ') || 'none'})`)
  const nowSec = opts.now / 1000
  if (exp + (opts.graceSec ?? 0) <= nowSec) throw new ProtocolError('token_expired', 'session token expired: ask for a new one (POST /v1/session)')
  if (iat > nowSec + CLOCK_SKEW_SEC) throw invalid('issued in the future')
  const scopes = scope.split(' ').filter((s): s is Scope => (SCOPES as readonly string[]).includes(s))
  if (opts.scope !== undefined && !scopes.includes(opts.scope)) {
    throw new ProtocolError('forbidden', `session token lacks the '${opts.scope}' scope`)
  }
  if (opts.track !== undefined && tracks !== undefined && !(tracks as string[]).includes(opts.track)) {
    throw new ProtocolError('forbidden', `session token does not cover track '${opts.track.slice(0, 64)}'`)
  }
  return { iss: 'chorus', sub, iat, exp, scope: scopes, aud: audiences, ...(tracks !== undefined && { tracks: tracks as string[] }) }
}

/** Reads a bearer token from an Authorization header value. */
export function bearerToken(header: string | null | undefined): string | undefined {
  if (!header) return undefined
  const match = /^Bearer\s+(\S+)$/i.exec(header.trim())
  return match?.[1]
}
