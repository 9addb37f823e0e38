/**
 * Errors the SDK raises, with stable codes an app can match on (`err.code === 'no_key'`).
 */
export const CHORUS_ERROR_CODES = ['bad_option', 'not_found', 'no_key', 'unauthorized', 'invalid_manifest', 'all_sources_down', 'stopped', 'closed', 'internal'] as const

export type ChorusErrorCode = (typeof CHORUS_ERROR_CODES)[number]

export class ChorusError extends Error {
  readonly code: ChorusErrorCode

  constructor(code: ChorusErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'ChorusError'
    this.code = code
  }
}

export const isChorusError = (err: unknown, code?: ChorusErrorCode): err is ChorusError => err instanceof ChorusError && (code === undefined || err.code === code)
