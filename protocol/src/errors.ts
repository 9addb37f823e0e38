/**
 * One error shape for every HTTP API in Chorus: `{ "error": { "code", "message" } }`.
 * Codes are stable: clients match on them, so a code is never renamed, only added.
 */
export const ERROR_STATUS = {
  bad_request: 400,
  invalid_id: 400,
  invalid_path: 400,
  invalid_range: 416,
  unauthorized: 401,
  invalid_token: 401,
  token_expired: 401,
  invalid_api_key: 401,
  forbidden: 403,
  not_found: 404,
  /** Sessions and keys: asked of an edge, which never serves them (they come from the key service). */
  not_at_edge: 404,
  track_not_found: 404,
  version_not_found: 404,
  chunk_not_found: 404,
  method_not_allowed: 405,
  payload_too_large: 413,
  rate_limited: 429,
  internal: 500,
  integrity_failure: 502,
  origin_unavailable: 502,
  origin_timeout: 504,
  /** The origin's masters store (a bucket over the S3 API) did not answer: try again, nothing is lost. */
  storage_unavailable: 503,
  invalid_manifest: 422,
  invalid_signature: 422,
  config_invalid: 500,
} as const

export type ErrorCode = keyof typeof ERROR_STATUS

export interface ErrorBody {
  error: { code: ErrorCode; message: string }
}

/** A failure any Chorus part can raise and any adapter can turn into its wire form. */
export class ProtocolError extends Error {
  readonly code: ErrorCode
  readonly status: number

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'ProtocolError'
    this.code = code
    this.status = ERROR_STATUS[code]
  }

  toJSON(): ErrorBody {
    return errorBody(this.code, this.message)
  }
}

export function errorBody(code: ErrorCode, message: string): ErrorBody {
  return { error: { code, message } }
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERROR_STATUS, value)
}

/** Reads an error body from any HTTP response body; undefined when it is not one of ours. */
export function parseErrorBody(value: unknown): ErrorBody['error'] | undefined {
  if (typeof value !== 'object' || value === null) return undefined
  const inner = (value as { error?: unknown }).error
  if (typeof inner !== 'object' || inner === null) return undefined
  const { code, message } = inner as { code?: unknown; message?: unknown }
  if (!isErrorCode(code) || typeof message !== 'string') return undefined
  return { code, message }
}
