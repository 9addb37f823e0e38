import { type ChunkAddress, CHUNK_PREFIX, ProtocolError, assertTrackId, chunkPath, parseChunkPath, readTextLimited } from '../../protocol/index.js'

export type PurgeTarget = { kind: 'track'; trackId: string } | { kind: 'chunk'; address: ChunkAddress; path: string }

const MAX_BODY = 4096

/** Reads `{"track": "<id>"}` or `{"chunk": "/v1/chunks/..."}` from a purge request. */
export async function purgeRequest(request: Request): Promise<PurgeTarget> {
  const text = await readTextLimited(request, MAX_BODY, 'purge body')
  let body: unknown
  try {
    body = JSON.parse(text)
  } catch {
    throw new ProtocolError('bad_request', 'purge body must be JSON: {"track": "<id>"} or {"chunk": "/v1/chunks/..."}')
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new ProtocolError('bad_request', 'purge body must be a JSON object')
  const { track, chunk } = body as { track?: unknown; chunk?: unknown }
  if ((track === undefined) === (chunk === undefined)) throw new ProtocolError('bad_request', 'purge one thing: give either "track" or "chunk"')
  if (track !== undefined) return { kind: 'track', trackId: assertTrackId(track) }
  if (typeof chunk !== 'string' || !chunk.startsWith(CHUNK_PREFIX)) throw new ProtocolError('invalid_path', `"chunk" must be a path starting with ${CHUNK_PREFIX}`)
  const address = parseChunkPath(chunk.slice(CHUNK_PREFIX.length))
  return { kind: 'chunk', address, path: chunkPath(address) }
}
