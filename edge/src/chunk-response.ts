import { errorBody, etagMatches, parseRange } from '../../protocol/index.js'
import { CORS_HEADERS, IMMUTABLE } from './http.js'

/** A verified chunk as the tiers hold it: the whole encrypted bytes and their SHA-256 as ETag. */
export interface StoredChunk {
  bytes: Uint8Array<ArrayBuffer>
  /** Quoted, as sent: `"<sha256 hex>"`. */
  etag: string
}

export interface ConditionalRequest {
  method: string
  range: string | null | undefined
  ifNoneMatch: string | null | undefined
}

export interface ChunkAnswer {
  response: Response
  /** Body bytes sent, for the byte hit ratio. */
  bytesSent: number
}

/**
 * The answer to a GET or HEAD for a chunk held whole: 304 when the ETag matches, 206 for a
 * satisfiable single Range, 416 otherwise, 200 for the rest. The tiers always hold whole chunks,
 * so a Range never reaches the origin.
 */
export function chunkAnswer(chunk: StoredChunk, request: ConditionalRequest, headers: Record<string, string>): ChunkAnswer {
  const length = chunk.bytes.byteLength
  const head = request.method === 'HEAD'
  // The common case (a plain GET) builds one header object and nothing else.
  if (!request.range && !request.ifNoneMatch) {
    const h = { ...CORS_HEADERS, ...headers, etag: chunk.etag, 'cache-control': IMMUTABLE, 'accept-ranges': 'bytes', 'content-type': 'application/octet-stream', 'content-length': String(length) }
    return { response: new Response(head ? null : chunk.bytes, { status: 200, headers: h }), bytesSent: head ? 0 : length }
  }
  const base: Record<string, string> = { ...CORS_HEADERS, ...headers, etag: chunk.etag, 'cache-control': IMMUTABLE, 'accept-ranges': 'bytes', 'content-type': 'application/octet-stream' }
  if (etagMatches(request.ifNoneMatch, chunk.etag)) return { response: new Response(null, { status: 304, headers: base }), bytesSent: 0 }
  const range = parseRange(request.range, length)
  if (range.kind === 'unsatisfiable') {
    const body = JSON.stringify(errorBody('invalid_range', `cannot serve Range '${String(request.range).slice(0, 100)}': ${range.reason}`))
    const h = { ...CORS_HEADERS, ...headers, 'content-type': 'application/json', 'content-range': `bytes */${length}` }
    return { response: new Response(head ? null : body, { status: 416, headers: h }), bytesSent: 0 }
  }
  if (range.kind === 'partial') {
    const part = chunk.bytes.subarray(range.start, range.end + 1)
    base['content-range'] = `bytes ${range.start}-${range.end}/${length}`
    base['content-length'] = String(part.byteLength)
    return { response: new Response(head ? null : part, { status: 206, headers: base }), bytesSent: head ? 0 : part.byteLength }
  }
  base['content-length'] = String(length)
  return { response: new Response(head ? null : chunk.bytes, { status: 200, headers: base }), bytesSent: head ? 0 : length }
}
