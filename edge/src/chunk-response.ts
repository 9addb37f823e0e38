import { type ChunkConditions, answerBytes, answerChunk } from '../../protocol/index.js'
import { toResponse } from './http.js'

/** A verified chunk as the tiers hold it: the whole encrypted bytes and their SHA-256 as ETag. */
export interface StoredChunk {
  bytes: Uint8Array<ArrayBuffer>
  /** Quoted, as sent: `"<sha256 hex>"`. */
  etag: string
}

export interface ChunkAnswer {
  response: Response
  /** Body bytes sent, for the byte hit ratio. */
  bytesSent: number
}

/**
 * protocol's chunk answer (200, 206, 304 or 416) with the edge's own headers, as a Response. The
 * tiers always hold whole chunks, so a Range never reaches the origin.
 */
export function chunkAnswer(chunk: StoredChunk, request: ChunkConditions, headers: Record<string, string>): ChunkAnswer {
  const answer = answerChunk(chunk, request, headers)
  return { response: toResponse(answer), bytesSent: answer.status < 400 ? answerBytes(answer) : 0 }
}
