import { fromBase64Url } from '../../protocol/index.js'
import { POLICY_NAMES, isPolicyName } from './policy/create-policy.js'
import type { PolicyName } from './policy/types.js'

/**
 * The edge's configuration: every value an operator sets in wrangler.toml [vars] (strings) or
 * as a secret. Parsed in one place, so the Worker (at its first request) and `chorus edge
 * --check` reject the same values with the same words.
 */
export interface EdgeConfig {
  /**
   * Base URL misses are fetched from: ORIGIN_URL, or UPSTREAM_EDGE when set (then `upstream` is
   * 'edge'). Without a trailing slash; may carry a path prefix. Never shown outside the edge.
   */
  originUrl: string
  /** Raw 32-byte Ed25519 key, base64url, as `GET /v1/origin-key` gives it. */
  originPublicKey: string
  /** 0 turns the memory tier off. */
  memoryCacheBytes: number
  memoryPolicy: PolicyName
  admitAfter: number
  manifestTtlSec: number
  negativeTtlSec: number
  staleWindowSec: number
  /** How long past its TTL a head is still served from the manifest held while that is refreshed behind it. */
  revalidateWindowSec: number
  readAhead: number
  originTimeoutMs: number
  requireToken: boolean
  /**
   * The secrets operator endpoints (stats, metrics, purge) accept: OPERATOR_TOKEN and PURGE_TOKEN,
   * its older name (both accepted when both are set, so `chorus start` passing either keeps
   * working). Empty leaves stats and metrics open and purge to session tokens.
   */
  operatorTokens: string[]
  /**
   * Scheme and host every Cache API key starts with, whatever hostname a request came in on:
   * one copy per path, so a purge through any hostname reaches it.
   */
  cacheBase: string
  /** Where misses go: the origin, or an upper-tier edge (a shield) that has the same routes. */
  upstream: 'origin' | 'edge'
}

/**
 * chunk-aware has the lowest mean miss ratio on the Spotify-shaped chunk workload, and on traffic
 * without chunk paths it is W-TinyLFU (bench/results/cache-policy.md; figures in src/policy/README.md).
 */
export const DEFAULT_POLICY: PolicyName = 'chunk-aware'

export interface ConfigVar {
  name: string
  /** The value used when the variable is unset or empty; undefined when it has none. */
  fallback: string | undefined
  secret: boolean
  help: string
}

export const CONFIG_VARS: readonly ConfigVar[] = [
  { name: 'ORIGIN_URL', fallback: undefined, secret: false, help: 'base URL of the origin (http or https), required' },
  { name: 'ORIGIN_PUBLIC_KEY', fallback: undefined, secret: false, help: "the origin's Ed25519 public key (base64url, 32 bytes; `chorus origin --print-public-key` or GET /v1/origin-key), required" },
  { name: 'MEMORY_CACHE_MB', fallback: '32', secret: false, help: 'size of the in-isolate memory tier in MiB, 0 to 1024 (0 turns it off; a Worker isolate has 128 MB in all)' },
  { name: 'MEMORY_POLICY', fallback: DEFAULT_POLICY, secret: false, help: `eviction policy of the memory tier: ${POLICY_NAMES.join(', ')}` },
  { name: 'ADMIT_AFTER', fallback: '1', secret: false, help: 'a chunk enters the memory tier from its N-th miss on, 1 to 255 (1 admits everything)' },
  { name: 'MANIFEST_TTL_SEC', fallback: '10', secret: false, help: "seconds a track's current manifest is served without asking the origin, 0 to 86400" },
  { name: 'NEGATIVE_TTL_SEC', fallback: '5', secret: false, help: 'seconds an origin 404 (unknown track or version) is remembered, 0 to 3600' },
  { name: 'STALE_WINDOW_SEC', fallback: '3600', secret: false, help: 'seconds past its TTL a current manifest is still served when the origin is down or slow, 0 to 604800' },
  {
    name: 'STALE_WHILE_REVALIDATE_SEC',
    fallback: '604800',
    secret: false,
    help: "seconds past its TTL a track's head (a cold play's one request) is still served from the manifest held while that is refreshed behind the answer, 0 to 2592000 (the copy held lasts MANIFEST_TTL_SEC + the larger of STALE_WINDOW_SEC and this); a new version reaches the plays after that refresh",
  },
  { name: 'READ_AHEAD', fallback: '2', secret: false, help: 'chunks after a missed one warmed in the background, 0 to 32' },
  { name: 'ORIGIN_TIMEOUT_MS', fallback: '5000', secret: false, help: 'time the edge waits for a whole origin answer, 50 to 120000 ms' },
  {
    name: 'REQUIRE_TOKEN',
    fallback: 'false',
    secret: false,
    help: "true: chunk requests need `Authorization: Bearer <the session's edge token>` with the 'play' scope, checked with ORIGIN_PUBLIC_KEY",
  },
  {
    name: 'OPERATOR_TOKEN',
    fallback: undefined,
    secret: true,
    help: 'a secret of at least 16 characters: when set, /_chorus/stats, /_chorus/metrics and /_chorus/purge need `Authorization: Bearer <it>` (purge also takes a purge-scope session token)',
  },
  { name: 'PURGE_TOKEN', fallback: undefined, secret: true, help: 'the older name of OPERATOR_TOKEN, still accepted (when both are set, either works)' },
  {
    name: 'CACHE_HOST',
    fallback: 'chorus-edge.invalid',
    secret: false,
    help: "the hostname every Cache API key uses, whatever hostname a request came in on (deployed: the zone's hostname the Worker is routed on)",
  },
  { name: 'UPSTREAM_EDGE', fallback: undefined, secret: false, help: 'base URL of an upper-tier Chorus edge (a shield): misses are fetched from it instead of ORIGIN_URL' },
]

export interface ConfigProblem {
  name: string
  message: string
}

export type ConfigResult = { ok: true; config: EdgeConfig } | { ok: false; problems: ConfigProblem[] }

export interface ParseConfigOptions {
  /** `chorus edge` fetches the key from the origin at start when it is not given. */
  publicKeyOptional?: boolean
}

function text(vars: Record<string, unknown>, name: string): string | undefined {
  const value = vars[name]
  if (value === undefined || value === null) return undefined
  const s = typeof value === 'string' ? value.trim() : typeof value === 'number' || typeof value === 'boolean' ? String(value) : undefined
  if (s === undefined) return `\u0000${typeof value}`
  return s === '' ? undefined : s
}

const show = (value: string) => (value.startsWith('\u0000') ? `a value of type ${value.slice(1)}` : `'${value.slice(0, 80)}'`)

/** Reads vars (wrangler [vars] and secrets, or flags) into a config, naming every bad value. */
export function parseEdgeConfig(vars: Record<string, unknown>, options: ParseConfigOptions = {}): ConfigResult {
  const problems: ConfigProblem[] = []
  const fail = (name: string, message: string) => problems.push({ name, message: `${name} ${message}` })
  const raw = (name: string) => text(vars, name) ?? CONFIG_VARS.find((v) => v.name === name)?.fallback

  const number = (name: string, min: number, max: number, integer: boolean): number => {
    const value = raw(name)!
    const n = /^-?\d+(\.\d+)?$/.test(value) ? Number(value) : Number.NaN
    if (!Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n))) {
      fail(name, `must be ${integer ? 'a whole number' : 'a number'} from ${min} to ${max}, not ${show(value)}`)
      return min
    }
    return n
  }

  const baseUrl = (name: string, value: string): string => {
    let url: URL | undefined
    try {
      url = new URL(value)
    } catch {}
    if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) fail(name, `must be an http or https URL, not ${show(value)}`)
    else if (url.search || url.hash || url.username || url.password) fail(name, `must have no query, fragment or credentials, not ${show(value)}`)
    else return `${url.origin}${url.pathname.replace(/\/+$/, '')}`
    return ''
  }

  // A lower-tier edge fetches everything from its shield, so it needs no origin of its own.
  const upstreamEdge = raw('UPSTREAM_EDGE')
  const upstreamUrl = upstreamEdge === undefined ? undefined : baseUrl('UPSTREAM_EDGE', upstreamEdge)
  let originUrl = ''
  const origin = raw('ORIGIN_URL')
  if (origin !== undefined) originUrl = baseUrl('ORIGIN_URL', origin)
  else if (upstreamEdge === undefined) fail('ORIGIN_URL', 'is required: the base URL of the origin, for example http://127.0.0.1:8788 (or set UPSTREAM_EDGE)')

  let originPublicKey = ''
  const key = raw('ORIGIN_PUBLIC_KEY')
  if (key === undefined) {
    if (!options.publicKeyOptional) fail('ORIGIN_PUBLIC_KEY', "is required: the origin's Ed25519 public key (GET /v1/origin-key on the origin)")
  } else {
    let bytes: Uint8Array | undefined
    try {
      bytes = key.startsWith('\u0000') ? undefined : fromBase64Url(key)
    } catch {}
    if (!bytes) fail('ORIGIN_PUBLIC_KEY', `must be base64url, not ${show(key)}`)
    else if (bytes.length !== 32) fail('ORIGIN_PUBLIC_KEY', `must be 32 raw Ed25519 bytes in base64url, not ${bytes.length} bytes`)
    else originPublicKey = key
  }

  const memoryMb = number('MEMORY_CACHE_MB', 0, 1024, false)
  const policy = raw('MEMORY_POLICY')!
  if (!isPolicyName(policy)) fail('MEMORY_POLICY', `must be one of ${POLICY_NAMES.join(', ')}, not ${show(policy)}`)

  const requireRaw = raw('REQUIRE_TOKEN')!.toLowerCase()
  if (requireRaw !== 'true' && requireRaw !== 'false') fail('REQUIRE_TOKEN', `must be true or false, not ${show(requireRaw)}`)
  const requireToken = requireRaw === 'true'

  const secret = (name: string): string | undefined => {
    const value = raw(name)
    if (value !== undefined && (value.startsWith('\u0000') || value.length < 16)) fail(name, 'must be at least 16 characters: it is the only thing between the Internet and the operator endpoints')
    return value
  }
  const operatorTokens = [...new Set([secret('OPERATOR_TOKEN'), secret('PURGE_TOKEN')].filter((v): v is string => v !== undefined))]

  const cacheHost = raw('CACHE_HOST')!.toLowerCase()
  // A bare hostname: a scheme, port or path here would make keys no request URL ever has.
  if (!/^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/.test(cacheHost))
    fail('CACHE_HOST', `must be a bare hostname such as edge.example.com, not ${show(cacheHost)}`)

  const config: EdgeConfig = {
    originUrl,
    originPublicKey,
    memoryCacheBytes: Math.floor(memoryMb * 1024 * 1024),
    memoryPolicy: isPolicyName(policy) ? policy : DEFAULT_POLICY,
    admitAfter: number('ADMIT_AFTER', 1, 255, true),
    manifestTtlSec: number('MANIFEST_TTL_SEC', 0, 86400, true),
    negativeTtlSec: number('NEGATIVE_TTL_SEC', 0, 3600, true),
    staleWindowSec: number('STALE_WINDOW_SEC', 0, 604800, true),
    revalidateWindowSec: number('STALE_WHILE_REVALIDATE_SEC', 0, 2592000, true),
    readAhead: number('READ_AHEAD', 0, 32, true),
    originTimeoutMs: number('ORIGIN_TIMEOUT_MS', 50, 120000, true),
    requireToken,
    operatorTokens,
    cacheBase: `https://${cacheHost}`,
    upstream: upstreamUrl === undefined ? 'origin' : 'edge',
  }
  if (upstreamUrl !== undefined) config.originUrl = upstreamUrl
  return problems.length ? { ok: false, problems } : { ok: true, config }
}

/** One line naming every bad value, for an error body or a terminal. */
export function describeProblems(problems: readonly ConfigProblem[]): string {
  return `invalid edge configuration: ${problems.map((p) => p.message).join('; ')}`
}
