import { CHUNK_PREFIX, type ChunkConditions, type HttpAnswer, ProtocolError, answerChunk, parseChunkPath } from '../../protocol/index.js'
import type { MasterReader, StoredChunk } from './storage.js'

/**
 * The origin's chunk route as a plain answer (protocol's HTTP rules over the store). Both the Hono
 * route and the Node adapter's fast path for hot chunks send it. A failure is thrown (or the
 * promise rejects): each adapter hands it to the origin's one error answer (app.ts).
 *
 * Synchronous when the chunk is in memory (the hot path the origin's throughput depends on), a
 * promise otherwise. `path` is the request's whole path, starting with CHUNK_PREFIX.
 */
export function chunkResponse(store: MasterReader, path: string, request: ChunkConditions): HttpAnswer | Promise<HttpAnswer> {
  // A path spelled exactly as chunkPath() writes it finds a hot chunk in one lookup; anything
  // else (including every malformed path) misses here and is parsed below.
  const rest = path.slice(CHUNK_PREFIX.length)
  const hot = store.peekChunk?.(rest)
  if (hot) return respond(hot, request)
  const a = parseChunkPath(rest)
  return (async () => {
    if (!(await store.manifest(a.trackId, a.version))) throw new ProtocolError('chunk_not_found', `no version '${a.version}' of track '${a.trackId}'`)
    const stored = await store.chunk(a.trackId, a.version, a.bitrate, a.index)
    if (!stored) throw new ProtocolError('chunk_not_found', `no chunk ${a.index} at ${a.bitrate} kbit/s`)
    return respond(stored, request)
  })()
}

// A whole chunk's 200 depends on the chunk alone: built once per chunk held in memory, it costs
// a hot request no header assembly (the entry goes when the store lets the chunk go).
const fullResponses = new WeakMap<StoredChunk, HttpAnswer>()

function respond(stored: StoredChunk, request: ChunkConditions): HttpAnswer {
  if (request.range || request.ifNoneMatch || request.method === 'HEAD') return answerChunk(stored, request)
  let full = fullResponses.get(stored)
  if (!full) {
    full = answerChunk(stored, {})
    fullResponses.set(stored, full)
  }
  return full
}
