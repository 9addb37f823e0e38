import { type ErrorCode, ProtocolError, errorBody } from '../../protocol/index.js'
import type { Timings } from './types.js'

/** Players on any page fetch from the edge; they read the cache and timing headers too. */
export const CORS_HEADERS: Readonly<Record<string, string>> = {
  'access-control-allow-origin': '*',
  'access-control-expose-headers': 'etag, content-range, content-length, accept-ranges, age, x-cache, cache-status, x-chorus-stale, warning, server-timing',
  'timing-allow-origin': '*',
}

export const PREFLIGHT_HEADERS: Readonly<Record<string, string>> = {
  ...CORS_HEADERS,
  'access-control-allow-methods': 'GET, HEAD, POST, OPTIONS',
  'access-control-allow-headers': 'authorization, content-type, range, if-none-match',
  'access-control-max-age': '86400',
  // Made by the edge alone: no cache, no upstream (RFC 9211 member without hit or fwd).
  'cache-status': 'chorus-edge; detail=generated',
}

export const IMMUTABLE = 'public, max-age=31536000, immutable'

export function jsonResponse(status: number, value: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(value), { status, headers: { 'content-type': 'application/json', 'cache-control': 'no-store', ...CORS_HEADERS, ...headers } })
}

export function errorResponse(code: ErrorCode, message: string, headers: Record<string, string> = {}): Response {
  return jsonResponse(new ProtocolError(code, message).status, errorBody(code, message), headers)
}

/** Any thrown value as an answer: ours keep their code, anything else is a 500 that says little. */
export function toErrorResponse(err: unknown, headers: Record<string, string> = {}): Response {
  if (err instanceof ProtocolError) return jsonResponse(err.status, err.toJSON(), headers)
  return errorResponse('internal', 'internal error at the edge', headers)
}

export function serverTiming(timings: Timings): string {
  return timings.map((t) => `${t.name};dur=${Math.max(0, t.ms).toFixed(1)}`).join(', ')
}
