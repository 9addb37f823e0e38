import { ProtocolError } from '../../protocol/index.js'
import { markForwarded } from './cache-status.js'

/**
 * The edge's only way to the origin. Every answer is read whole under one timeout: an origin
 * that sends headers and then stalls is as slow as one that never answers, and everything the
 * edge fetches (chunks, manifests, keys) is small.
 */
interface OriginAnswer {
  status: number
  headers: Headers
  body: Uint8Array<ArrayBuffer>
  ms: number
}

export interface OriginClientOptions {
  baseUrl: string
  fetch: typeof fetch
  timeoutMs: number
  now: () => number
  observe?: (ms: number, outcome: 'ok' | 'error' | 'timeout') => void
  /** Sent with every request (under the request's own): the edge's CDN-Loop token. */
  headers?: Record<string, string>
}

interface OriginRequest {
  method?: string
  headers?: Record<string, string>
  body?: Uint8Array
}

export interface OriginClient {
  readonly baseUrl: string
  /** Throws ProtocolError 'origin_timeout' or 'origin_unavailable'; any HTTP status is an answer. */
  request(pathAndQuery: string, init?: OriginRequest): Promise<OriginAnswer>
}

export function createOriginClient(options: OriginClientOptions): OriginClient {
  const { baseUrl, timeoutMs, now, observe } = options
  const doFetch = options.fetch
  return {
    baseUrl,
    async request(pathAndQuery, init = {}) {
      const started = now()
      const controller = new AbortController()
      let timedOut = false
      const timer = setTimeout(() => {
        timedOut = true
        controller.abort()
      }, timeoutMs)
      try {
        const res = await doFetch(`${baseUrl}${pathAndQuery}`, {
          method: init.method ?? 'GET',
          headers: { ...options.headers, ...init.headers },
          ...(init.body && { body: init.body as Uint8Array<ArrayBuffer> }),
          signal: controller.signal,
          redirect: 'manual',
        })
        const body = new Uint8Array(await res.arrayBuffer())
        const ms = now() - started
        observe?.(ms, 'ok')
        return { status: res.status, headers: res.headers, body, ms }
      } catch (err) {
        const ms = now() - started
        if (timedOut) {
          observe?.(ms, 'timeout')
          // Forwarded, but no status came back: Cache-Status says fwd without fwd-status.
          throw markForwarded(new ProtocolError('origin_timeout', `the origin did not answer within ${timeoutMs} ms`), { fwd: 'uri-miss', stored: false })
        }
        observe?.(ms, 'error')
        throw markForwarded(new ProtocolError('origin_unavailable', `the origin is unreachable: ${(err as Error).message}`.slice(0, 300), { cause: err }), { fwd: 'uri-miss', stored: false })
      } finally {
        clearTimeout(timer)
      }
    },
  }
}

/** Network failures, timeouts and 5xx: the cases where a stale copy beats an error. */
export function isOriginFailure(err: unknown): boolean {
  return err instanceof ProtocolError && (err.code === 'origin_unavailable' || err.code === 'origin_timeout')
}
