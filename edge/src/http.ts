import { type HttpAnswer, answerJson } from '../../protocol/index.js'
import type { Timings } from './types.js'

// The HTTP rules themselves (CORS, immutable, chunk and error answers) are protocol's, shared
// with the origin; this file only renders them as Fetch Responses.
export { IMMUTABLE } from '../../protocol/index.js'

export function toResponse(answer: HttpAnswer): Response {
  return new Response(answer.body as BodyInit | null, { status: answer.status, headers: answer.headers })
}

export function jsonResponse(status: number, value: unknown, headers: Record<string, string> = {}): Response {
  return toResponse(answerJson(status, value, headers))
}

export function serverTiming(timings: Timings): string {
  return timings.map((t) => `${t.name};dur=${Math.max(0, t.ms).toFixed(1)}`).join(', ')
}
