import { CHUNK_PREFIX, ProtocolError, errorBody, etagMatches, parseChunkPath, parseRange } from '../../protocol/index.js'
import type { MasterReader, StoredChunk } from './storage.js'

/**
 * The answer to a chunk request as a plain value. Both the Hono route and the Node adapter's
 * fast path for hot chunks send this same value, so the rules live here once.
 */
export interface PlainResponse {
  status: number
  headers: Record<string, string>
  body: Uint8Array | string | null
}

export const IMMUTABLE = 'public, max-age=31536000, immutable'

/** Players fetch through edges, but a page may reach the origin directly in development. */
export const CORS_HEADERS = { 'access-control-allow-origin': '*', 'access-control-expose-headers': 'etag, content-range, content-length' } as const

export interface ChunkRequest {
  range?: string | undefined
  ifNoneMatch?: string | undefined
}

function failure(err: ProtocolError, extra: Record<string, string> = {}): PlainResponse {
  return { status: err.status, headers: { 'content-type': 'application/json', ...CORS_HEADERS, ...extra }, body: JSON.stringify(err.toJSON()) }
}

function toFailure(err: unknown): PlainResponse {
  if (err instanceof ProtocolError) return failure(err)
  throw err
}

/**
 * Synchronous when the chunk is in memory (the hot path the origin's throughput depends on), a
 * promise otherwise. `path` is the request's whole path, starting with CHUNK_PREFIX.
 */
export function chunkResponse(store: MasterReader, path: string, request: ChunkRequest): PlainResponse | Promise<PlainResponse> {
  // A path spelled exactly as chunkPath() writes it finds a hot chunk in one lookup; anything
  // else (including every malformed path) misses here and is parsed below.
  const rest = path.slice(CHUNK_PREFIX.length)
  const hot = store.peekChunk?.(rest)
  if (hot) return respond(hot, request)
  try {
    const a = parseChunkPath(rest)
    return (async () => {
      if (!(await store.manifest(a.trackId, a.version))) throw new ProtocolError('chunk_not_found', `no version '${a.version}' of track '${a.trackId}'`)
      const stored = await store.chunk(a.trackId, a.version, a.bitrate, a.index)
      if (!stored) throw new ProtocolError('chunk_not_found', `no chunk ${a.index} at ${a.bitrate} kbit/s`)
      return respond(stored, request)
    })().catch(toFailure)
  } catch (err) {
    return toFailure(err)
  }
}

// A whole chunk's 200 depends on the chunk alone: built once per chunk held in memory, it costs
// a hot request no header assembly (the entry goes when the store lets the chunk go).
const fullResponses = new WeakMap<StoredChunk, PlainResponse>()

function respond(stored: StoredChunk, request: ChunkRequest): PlainResponse {
  const { bytes, etag } = stored
  if (request.range === undefined && request.ifNoneMatch === undefined) {
    let full = fullResponses.get(stored)
    if (!full) {
      full = { status: 200, headers: { ...baseHeaders(etag), 'content-length': String(bytes.length) }, body: bytes }
      fullResponses.set(stored, full)
    }
    return full
  }
  const base = baseHeaders(etag)
  if (etagMatches(request.ifNoneMatch, etag)) return { status: 304, headers: base, body: null }
  const range = parseRange(request.range, bytes.length)
  if (range.kind === 'unsatisfiable') {
    return {
      status: 416,
      headers: { 'content-type': 'application/json', ...CORS_HEADERS, 'content-range': `bytes */${bytes.length}` },
      body: JSON.stringify(errorBody('invalid_range', `cannot serve Range '${request.range}': ${range.reason}`)),
    }
  }
  if (range.kind === 'partial') {
    const part = bytes.subarray(range.start, range.end + 1)
    return { status: 206, headers: { ...base, 'content-range': `bytes ${range.start}-${range.end}/${bytes.length}`, 'content-length': String(part.length) }, body: part }
  }
  return { status: 200, headers: { ...base, 'content-length': String(bytes.length) }, body: bytes }
}

function baseHeaders(etag: string): Record<string, string> {
  return { etag, 'cache-control': IMMUTABLE, 'accept-ranges': 'bytes', 'content-type': 'application/octet-stream', ...CORS_HEADERS }
}
