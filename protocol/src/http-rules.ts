import { ERROR_STATUS, type ErrorCode, ProtocolError, errorBody } from './errors.js'
import { etagMatches, parseRange } from './range.js'

/**
 * Chorus's HTTP rules as values in, values out: the chunk answer, CORS, the JSON error answer and
 * the route tables of the origin and the edge. Each server renders an HttpAnswer its own way (a
 * Fetch Response, or node:http's writeHead and end), so the origin, the origin Worker and the edge
 * answer by the same rules without sharing a runtime.
 */
export interface HttpAnswer {
  status: number
  headers: Record<string, string>
  body: Uint8Array | string | null
}

/** A chunk URL names one immutable byte string (DESIGN.md), and so does a pinned manifest. */
export const IMMUTABLE = 'public, max-age=31536000, immutable'

/**
 * One CORS list for every Chorus server: players on any page fetch from the edge, and in
 * development from the origin directly. Both servers send ETag, Content-Range, Content-Length and
 * Accept-Ranges; only the edge sends Age, X-Cache, Cache-Status, X-Chorus-Stale, Warning and
 * Server-Timing (its tiers and timings), but exposing a header a server never sends costs nothing,
 * and one list keeps a player's view of the two the same.
 */
export const CORS_HEADERS: Readonly<Record<string, string>> = {
  'access-control-allow-origin': '*',
  'access-control-expose-headers': 'etag, content-range, content-length, accept-ranges, age, x-cache, cache-status, x-chorus-stale, warning, server-timing',
  'timing-allow-origin': '*',
}

/** The answer to an OPTIONS preflight: what a player sends (a token, a Range, a revalidation). */
export const PREFLIGHT_HEADERS: Readonly<Record<string, string>> = {
  ...CORS_HEADERS,
  'access-control-allow-methods': 'GET, HEAD, POST, OPTIONS',
  'access-control-allow-headers': 'authorization, content-type, range, if-none-match',
  'access-control-max-age': '86400',
}

/** A chunk held whole: its encrypted bytes and their SHA-256, quoted, as its ETag. */
export interface ChunkBytes {
  bytes: Uint8Array
  etag: string
}

export interface ChunkConditions {
  /** GET when absent. */
  method?: string | undefined
  range?: string | null | undefined
  ifNoneMatch?: string | null | undefined
}

/**
 * The answer to a GET or HEAD for a chunk: 304 when the ETag matches, 206 for a satisfiable single
 * Range, 416 for any other Range, 200 otherwise. `headers` (a server's own, such as the edge's
 * X-Cache) go on every answer.
 */
export function answerChunk(chunk: ChunkBytes, request: ChunkConditions, headers: Readonly<Record<string, string>> = {}): HttpAnswer {
  const { bytes, etag } = chunk
  const length = bytes.byteLength
  const head = request.method === 'HEAD'
  const base: Record<string, string> = { ...CORS_HEADERS, ...headers, etag, 'cache-control': IMMUTABLE, 'accept-ranges': 'bytes', 'content-type': 'application/octet-stream' }
  // A plain GET, nearly all of the traffic, goes straight to the 200.
  if (request.range || request.ifNoneMatch) {
    if (etagMatches(request.ifNoneMatch, etag)) return { status: 304, headers: base, body: null }
    const range = parseRange(request.range, length)
    if (range.kind === 'unsatisfiable') {
      const message = `cannot serve Range '${String(request.range).slice(0, 100)}': ${range.reason}`
      const h = { ...CORS_HEADERS, ...headers, 'content-type': 'application/json', 'content-range': `bytes */${length}` }
      return { status: 416, headers: h, body: head ? null : JSON.stringify(errorBody('invalid_range', message)) }
    }
    if (range.kind === 'partial') {
      const part = bytes.subarray(range.start, range.end + 1)
      base['content-range'] = `bytes ${range.start}-${range.end}/${length}`
      base['content-length'] = String(part.byteLength)
      return { status: 206, headers: base, body: head ? null : part }
    }
  }
  base['content-length'] = String(length)
  return { status: 200, headers: base, body: head ? null : bytes }
}

/** A JSON answer no cache keeps: errors, and a server's own reports. */
export function answerJson(status: number, value: unknown, headers: Readonly<Record<string, string>> = {}): HttpAnswer {
  return { status, headers: { 'content-type': 'application/json', 'cache-control': 'no-store', ...CORS_HEADERS, ...headers }, body: JSON.stringify(value) }
}

/** A ProtocolError that needs response headers of its own: a 405's Allow. */
export class HttpError extends ProtocolError {
  readonly headers: Readonly<Record<string, string>>

  constructor(code: ErrorCode, message: string, headers: Readonly<Record<string, string>>, options?: { cause?: unknown }) {
    super(code, message, options)
    this.name = 'HttpError'
    this.headers = headers
  }
}

/**
 * Any thrown value as its JSON answer: a ProtocolError keeps its code and status (and its body is
 * its toJSON, so an error may say more); anything else is a 500 that says no more than
 * `internalMessage`, since its text may hold what a client must not see.
 */
export function answerError(err: unknown, options: { internalMessage?: string; headers?: Readonly<Record<string, string>> } = {}): HttpAnswer {
  if (!(err instanceof ProtocolError)) return answerJson(ERROR_STATUS.internal, errorBody('internal', options.internalMessage ?? 'internal error'), options.headers)
  const own = err instanceof HttpError ? err.headers : {}
  return answerJson(err.status, err.toJSON(), { ...own, ...options.headers })
}

/** Body bytes an answer sends (for metrics): zero for none. */
export function answerBytes(answer: HttpAnswer): number {
  const { body } = answer
  if (body === null) return 0
  return typeof body === 'string' ? new TextEncoder().encode(body).byteLength : body.byteLength
}

/** Routes by the names the origin's metrics label them with. */
export type RouteName = 'chunk' | 'key' | 'keys' | 'manifest' | 'head' | 'catalog' | 'session' | 'admin' | 'healthz' | 'metrics' | 'origin-key' | 'stats' | 'purge'

/** A path a server serves and the methods it takes there (a 405's Allow). */
export interface RouteRule {
  readonly name: RouteName
  readonly pattern: RegExp
  readonly allow: string
}

const READ = 'GET, HEAD, OPTIONS'

const READ_ONLY = (name: RouteName, pattern: RegExp): RouteRule => ({ name, pattern, allow: READ })

// The public API, the same paths at the origin and at an edge. No two patterns overlap, so order is free.
const API: readonly RouteRule[] = [
  READ_ONLY('chunk', /^\/v1\/chunks\//),
  READ_ONLY('key', /^\/v1\/tracks\/[^/]+\/key$/),
  READ_ONLY('manifest', /^\/v1\/tracks\/[^/]+\/(versions\/[^/]+\/)?manifest$/),
  READ_ONLY('head', /^\/v1\/tracks\/[^/]+\/head$/),
  READ_ONLY('catalog', /^\/v1\/tracks$/),
  { name: 'session', pattern: /^\/v1\/session$/, allow: 'POST, OPTIONS' },
  { name: 'keys', pattern: /^\/v1\/keys$/, allow: 'POST, OPTIONS' },
  READ_ONLY('origin-key', /^\/v1\/origin-key$/),
  READ_ONLY('healthz', /^\/healthz$/),
]

/** The origin's paths. Key uploads (admin) exist only where a key writer is configured. */
export const ORIGIN_ROUTES: readonly RouteRule[] = [...API, READ_ONLY('metrics', /^\/metrics$/), { name: 'admin', pattern: /^\/v1\/admin\/track-keys\//, allow: 'PUT' }]

/**
 * The edge's paths. Sessions and keys are listed so that they are known (the edge answers them
 * `not_at_edge` whatever the method); the operator's are under /_chorus/.
 */
export const EDGE_ROUTES: readonly RouteRule[] = [
  ...API,
  READ_ONLY('stats', /^\/_chorus\/stats$/),
  READ_ONLY('metrics', /^\/_chorus\/metrics$/),
  { name: 'purge', pattern: /^\/_chorus\/purge$/, allow: 'POST, OPTIONS' },
]

export function findRoute(routes: readonly RouteRule[], path: string): RouteRule | undefined {
  return routes.find((r) => r.pattern.test(path))
}

/** A request no handler took: a 405 naming the methods where the path is known, a 404 elsewhere. */
export function unroutedError(routes: readonly RouteRule[], method: string, path: string): ProtocolError {
  const route = findRoute(routes, path)
  if (route) return new HttpError('method_not_allowed', `${method.slice(0, 20)} is not allowed here; use ${route.allow}`, { allow: route.allow })
  return new ProtocolError('not_found', `no route ${method.slice(0, 20)} ${path.slice(0, 200)}`)
}
