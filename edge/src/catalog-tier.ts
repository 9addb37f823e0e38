import { ProtocolError } from '../../protocol/index.js'
import { type Forwarded, forwardedOf, markForwarded, withUpstream } from './cache-status.js'
import { createCoalescer } from './coalescer.js'
import { type OriginClient, isOriginFailure } from './origin-client.js'
import type { CacheStatus, Timings } from './types.js'

/**
 * The catalog list (GET /v1/tracks): unsigned and changing, so kept briefly and in the isolate
 * only, fresh for MANIFEST_TTL_SEC and served stale within the window when the origin fails.
 */
interface CatalogResult {
  body: Uint8Array<ArrayBuffer>
  fetchedAt: number
  status: Exclude<CacheStatus, 'HIT-CACHE'>
  timings: Timings
  /** True for the waiters of a fetch another request started. */
  joined: boolean
  /** For MISS and STALE: what the trip upstream gave, for Cache-Status. */
  forwarded?: Forwarded
}

/** The catalog at the edge: one copy in the isolate. */
export interface CatalogTier {
  /** The catalog: held while fresh, else from the origin (one fetch for concurrent requests), else stale within the window. */
  get(trace?: { collapsed?: boolean }): Promise<CatalogResult>
  /** Forgets the held copy. */
  purge(): void
}

export function createCatalogTier(options: { origin: OriginClient; now: () => number; ttlSec: number; staleWindowSec: number }): CatalogTier {
  const { origin, now } = options
  let held: { body: Uint8Array<ArrayBuffer>; fetchedAt: number } | undefined
  const inflight = createCoalescer<CatalogResult>()
  return {
    async get(trace: { collapsed?: boolean } = {}): Promise<CatalogResult> {
      if (held && now() - held.fetchedAt < options.ttlSec * 1000) return { ...held, status: 'HIT-MEMORY', timings: [{ name: 'memory', ms: 0 }], joined: false }
      const { promise, joined } = inflight.run('catalog', async (): Promise<CatalogResult> => {
        const timings: Timings = []
        const fwd = held ? 'stale' : 'uri-miss'
        try {
          let answer: Awaited<ReturnType<typeof origin.request>>
          try {
            answer = await origin.request('/v1/tracks')
          } catch (err) {
            throw markForwarded(err, { fwd, stored: false })
          }
          timings.push({ name: 'origin', ms: answer.ms })
          const forwarded: Forwarded = { fwd, status: answer.status, stored: false, ...withUpstream(answer.headers) }
          if (answer.status !== 200) throw markForwarded(new ProtocolError('origin_unavailable', `the origin answered ${answer.status} for the catalog`), forwarded)
          held = { body: answer.body, fetchedAt: now() }
          return { ...held, status: 'MISS', timings, joined: false, forwarded: { ...forwarded, stored: true } }
        } catch (err) {
          if (isOriginFailure(err) && held && now() - held.fetchedAt <= (options.ttlSec + options.staleWindowSec) * 1000) {
            return { ...held, status: 'STALE', timings, joined: false, forwarded: forwardedOf(err) ?? { fwd, stored: false } }
          }
          throw err
        }
      })
      trace.collapsed = joined
      return { ...(await promise), joined }
    },
    purge(): void {
      held = undefined
    },
  }
}
