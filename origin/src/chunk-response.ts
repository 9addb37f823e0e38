import { type ChunkAddress, CHUNK_PREFIX, ProtocolError, errorBody, etagMatches, parseChunkPath, parseRange } from '../../protocol/index.js'
import type { Store, StoredManifest } from './store.js'

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

function failure(err: ProtocolError, extra: Record<string, string> = {}): PlainResponse {
  return { status: err.status, headers: { 'content-type': 'application/json', ...extra }, body: JSON.stringify(err.toJSON()) }
}

/**
 * Synchronous when the manifest and the chunk are both in memory (the hot path the origin's
 * throughput depends on), a promise otherwise.
 */
export function chunkResponse(store: Store, path: string, request: ChunkRequest): PlainResponse | Promise<PlainResponse> {
  try {
    const a = parseChunkPath(path.slice(CHUNK_PREFIX.length))
    const stored = store.peekManifest(a.trackId, a.version)
    const bytes = stored && store.peekChunk(a.trackId, a.version, a.bitrate, a.index)
    if (stored && bytes) return respond(stored, a, bytes, request)
    return (async () => {
      const m = await store.manifest(a.trackId, a.version)
      if (!m) throw new ProtocolError('chunk_not_found', `no version '${a.version}' of track '${a.trackId}'`)
      return respond(m, a, await store.chunk(a.trackId, a.version, a.bitrate, a.index), request)
    })().catch(toFailure)
  } catch (err) {
    return toFailure(err)
  }
}

export interface ChunkRequest {
  range?: string | undefined
  ifNoneMatch?: string | undefined
}

function toFailure(err: unknown): PlainResponse {
  if (err instanceof ProtocolError) return failure(err)
  throw err
}

function respond(stored: StoredManifest, a: ChunkAddress, bytes: Uint8Array | undefined, request: ChunkRequest): PlainResponse {
  const q = stored.doc.manifest.qualities.find((x) => x.bitrate === a.bitrate)
  if (!q || a.index >= q.chunkCount || !bytes) throw new ProtocolError('chunk_not_found', `no chunk ${a.index} at ${a.bitrate} kbit/s`)
  const base = { etag: `"${q.hashes[a.index]}"`, 'cache-control': IMMUTABLE, 'accept-ranges': 'bytes', 'content-type': 'application/octet-stream' }
  if (etagMatches(request.ifNoneMatch, base.etag)) return { status: 304, headers: base, body: null }
  const range = parseRange(request.range, bytes.length)
  if (range.kind === 'unsatisfiable') {
    return {
      status: 416,
      headers: { 'content-type': 'application/json', 'content-range': `bytes */${bytes.length}` },
      body: JSON.stringify(errorBody('invalid_range', `cannot serve Range '${request.range}': ${range.reason}`)),
    }
  }
  if (range.kind === 'partial') {
    const part = bytes.subarray(range.start, range.end + 1)
    return { status: 206, headers: { ...base, 'content-range': `bytes ${range.start}-${range.end}/${bytes.length}`, 'content-length': String(part.length) }, body: part }
  }
  return { status: 200, headers: { ...base, 'content-length': String(bytes.length) }, body: bytes }
}
