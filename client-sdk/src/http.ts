import { parseErrorBody } from '../../protocol/index.js'
import { ChorusError } from './errors.js'

/**
 * One HTTP service the SDK talks to (the edge, the key service): requests with a timeout, and
 * answers that are not 2xx turned into ChorusErrors with stable codes. `fetch` is injected so
 * tests and benchmarks can put a delaying or counting transport in front of it.
 */
export interface HttpServiceOptions {
  base: string
  /** The service's name in error messages ("edge unreachable at ..."). */
  name: string
  /** Default: globalThis.fetch. */
  fetch?: typeof fetch
  /** Per request (default 8 s). */
  timeoutMs?: number
}

export interface HttpService {
  /** The base URL without a trailing slash. */
  readonly base: string
  /** `base + path`, within the timeout; a network failure is `all_sources_down`, a cancel through `signal` is `stopped`. Any status resolves. */
  request(path: string, init?: RequestInit, signal?: AbortSignal): Promise<Response>
  /** A non-2xx answer as a ChorusError: 404 `not_found`, 401/403 `unauthorized`, else `all_sources_down`; the message names `what` and the server's error code. */
  failure(res: Response, what: string): Promise<ChorusError>
}

export function createHttpService(options: HttpServiceOptions): HttpService {
  const base = options.base.replace(/\/+$/, '')
  const doFetch = options.fetch ?? globalThis.fetch.bind(globalThis)
  const timeoutMs = options.timeoutMs ?? 8000

  async function request(path: string, init: RequestInit = {}, signal?: AbortSignal): Promise<Response> {
    const timeout = AbortSignal.timeout(timeoutMs)
    const combined = signal ? AbortSignal.any([signal, timeout]) : timeout
    try {
      return await doFetch(`${base}${path}`, { ...init, signal: combined })
    } catch (err) {
      if (signal?.aborted) throw new ChorusError('stopped', 'request cancelled', { cause: err })
      throw new ChorusError('all_sources_down', `${options.name} unreachable at ${base}: ${(err as Error).message}`, { cause: err })
    }
  }

  async function failure(res: Response, what: string): Promise<ChorusError> {
    let detail: ReturnType<typeof parseErrorBody>
    try {
      detail = parseErrorBody(await res.json())
    } catch {}
    const message = `${what}: ${res.status}${detail ? ` ${detail.code}: ${detail.message}` : ''}`
    if (res.status === 404) return new ChorusError('not_found', message)
    if (res.status === 401 || res.status === 403) return new ChorusError('unauthorized', message)
    return new ChorusError('all_sources_down', message)
  }

  return { base, request, failure }
}
