/**
 * The Cache-Status response header (RFC 9211): how this edge handled a request, in the standard
 * form every HTTP cache can emit, beside the edge's own x-cache. One List member per cache, the
 * one closest to the origin first: an edge behind a shield repeats the shield's member before
 * its own, so a response tells its whole path.
 *
 * Pure: the tiers report what they did (a hit, or a forward and what came back) as values, and
 * this file turns them into the header's text (RFC 8941 Structured Fields).
 */

/** The name this edge gives its member; every Chorus edge tier uses it (the order tells them apart). */
export const CACHE_NAME = 'chorus-edge'

/** The freshness an immutable chunk or pinned manifest is given (cache-control max-age). */
export const IMMUTABLE_TTL_SEC = 31536000

/** Why a request went towards the origin: nothing stored (`uri-miss`), or only a stale copy (`stale`). */
export type ForwardReason = 'uri-miss' | 'stale'

/** What one trip upstream (origin, or shield) gave: shared by every request that waited on it. */
export interface Forwarded {
  fwd: ForwardReason
  /** The upstream's status code; absent when no answer came (network error, timeout). */
  status?: number
  /** True when what came back entered a tier (a verified chunk or manifest, a remembered 404). */
  stored: boolean
  /** The upstream's own Cache-Status value (a shield's), kept so the chain stays visible. */
  upstream?: string
}

/** One cache's member of the header: RFC 9211 section 2 parameters. */
export interface CacheStatusEntry {
  hit?: boolean
  fwd?: ForwardReason
  fwdStatus?: number
  ttl?: number
  stored?: boolean
  collapsed?: boolean
  key?: string
  detail?: string
}

const TOKEN = /^[A-Za-z*][!#$%&'*+\-.^_`|~0-9A-Za-z:/]*$/
/** Structured Field strings are printable ASCII; anything else becomes '?' rather than a broken header. */
const sfString = (s: string) => `"${s.replace(/[^\x20-\x7e]/g, '?').replace(/[\\"]/g, (c) => `\\${c}`)}"`

/** One member, e.g. `chorus-edge; fwd=uri-miss; fwd-status=200; stored; ttl=31536000; key="https://..."`. */
function cacheStatusMember(entry: CacheStatusEntry): string {
  const parts = [CACHE_NAME]
  // hit and fwd exclude each other (section 2.1): a hit was not forwarded.
  if (entry.hit) parts.push('hit')
  else if (entry.fwd) {
    parts.push(`fwd=${entry.fwd}`)
    if (entry.fwdStatus !== undefined) parts.push(`fwd-status=${entry.fwdStatus}`)
  }
  if (entry.ttl !== undefined && Number.isFinite(entry.ttl)) parts.push(`ttl=${Math.trunc(entry.ttl)}`)
  if (entry.stored) parts.push('stored')
  if (entry.collapsed) parts.push('collapsed')
  if (entry.key !== undefined) parts.push(`key=${sfString(entry.key)}`)
  if (entry.detail !== undefined) parts.push(`detail=${TOKEN.test(entry.detail) ? entry.detail : sfString(entry.detail)}`)
  return parts.join('; ')
}

/**
 * The upstream's members, when they look like a Cache-Status value: printable ASCII of a sane
 * length. Anything else is dropped rather than passed on, since it is only debugging help.
 */
function upstreamMembers(value: string | null | undefined): string | undefined {
  if (!value) return undefined
  const trimmed = value.trim()
  return trimmed.length > 0 && trimmed.length <= 2048 && /^[\x20-\x7e]+$/.test(trimmed) ? trimmed : undefined
}

/** A shield's Cache-Status from an upstream answer's headers, to repeat before this edge's own member. */
export function withUpstream(headers: Headers): { upstream?: string } {
  const upstream = upstreamMembers(headers.get('cache-status'))
  return upstream === undefined ? {} : { upstream }
}

/** The header value: the upstream's members (closest to the origin first), then this edge's. */
export function cacheStatusValue(entry: CacheStatusEntry, upstream?: string): string {
  const own = cacheStatusMember(entry)
  return upstream ? `${upstream}, ${own}` : own
}

/** The entry of a request answered after a trip upstream (a miss, or a stale copy refreshed or kept). */
export function forwardedEntry(f: Forwarded, extra: Omit<CacheStatusEntry, 'fwd' | 'fwdStatus' | 'stored'>): CacheStatusEntry {
  return { fwd: f.fwd, ...(f.status !== undefined && { fwdStatus: f.status }), stored: f.stored, ...extra }
}

// Errors cross the coalescer as they are (every waiter gets the same object), so what the trip
// upstream did travels with the error itself rather than through every caller's signature.
const forwardedErrors = new WeakMap<object, Forwarded>()

/**
 * Records on a thrown error that it came from (or after) a trip upstream; returns the error. A
 * later mark wins: the tier that catches an origin client's error knows why it forwarded.
 */
export function markForwarded<E>(err: E, forwarded: Forwarded): E {
  if (typeof err === 'object' && err !== null) forwardedErrors.set(err, forwarded)
  return err
}

export function forwardedOf(err: unknown): Forwarded | undefined {
  return typeof err === 'object' && err !== null ? forwardedErrors.get(err) : undefined
}
