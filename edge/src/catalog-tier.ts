import { ProtocolError } from '../../protocol/index.js'
import { createCoalescer } from './coalescer.js'
import { type OriginClient, isOriginFailure } from './origin-client.js'
import type { CacheStatus, Timings } from './types.js'

/**
 * The catalog list (GET /v1/tracks): unsigned and changing, so kept briefly and in the isolate
 * only, fresh for MANIFEST_TTL_SEC and served stale within the window when the origin fails.
 */
export interface CatalogResult {
  body: Uint8Array<ArrayBuffer>
  fetchedAt: number
  status: Exclude<CacheStatus, 'HIT-CACHE' | 'PASS'>
  timings: Timings
}

export function createCatalogTier(options: { origin: OriginClient; now: () => number; ttlSec: number; staleWindowSec: number }) {
  const { origin, now } = options
  let held: { body: Uint8Array<ArrayBuffer>; fetchedAt: number } | undefined
  const inflight = createCoalescer<CatalogResult>()
  return {
    async get(): Promise<CatalogResult> {
      if (held && now() - held.fetchedAt < options.ttlSec * 1000) return { ...held, status: 'HIT-MEMORY', timings: [{ name: 'memory', ms: 0 }] }
      return inflight.run('catalog', async () => {
        const timings: Timings = []
        try {
          const answer = await origin.request('/v1/tracks')
          timings.push({ name: 'origin', ms: answer.ms })
          if (answer.status !== 200) throw new ProtocolError('origin_unavailable', `the origin answered ${answer.status} for the catalog`)
          held = { body: answer.body, fetchedAt: now() }
          return { ...held, status: 'MISS', timings }
        } catch (err) {
          if (isOriginFailure(err) && held && now() - held.fetchedAt <= (options.ttlSec + options.staleWindowSec) * 1000) return { ...held, status: 'STALE', timings }
          throw err
        }
      }).promise
    },
    purge(): void {
      held = undefined
    },
  }
}
