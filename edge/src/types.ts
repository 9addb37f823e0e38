/**
 * The runtime seams of the edge's core: the Cache API (caches.default in a Worker), the request's
 * context (ctx.waitUntil) and the clock. The core sees only these, so it runs unchanged in workerd
 * and anywhere else a test or benchmark wants it.
 */
export interface CacheLike {
  match(key: string): Promise<Response | undefined>
  put(key: string, response: Response): Promise<void>
  delete(key: string): Promise<boolean>
}

/**
 * What the core needs from the request being served, besides the request itself. Not its
 * hostname: cache keys are CACHE_HOST and the path, the same under every hostname.
 */
export interface RequestContext {
  waitUntil(promise: Promise<unknown>): void
}

/** Where an answer came from, as the x-cache header says it. */
export type CacheStatus = 'HIT-MEMORY' | 'HIT-CACHE' | 'MISS' | 'STALE'

/** Time spent per tier for one answer, reported in Server-Timing. */
export type Timings = Array<{ name: 'memory' | 'cache' | 'origin' | 'manifest' | 'verify' | 'wait'; ms: number }>
