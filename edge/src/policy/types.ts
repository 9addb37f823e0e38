/**
 * The contract every eviction policy of the edge's memory tier meets.
 *
 * A policy only tracks keys and their sizes; the values live elsewhere (see
 * memory-cache.ts). Keeping values out makes the same policy replayable over
 * millions of requests in a benchmark and usable inside a Worker unchanged.
 */

export type PolicyName = 'lru' | 'sieve' | 's3fifo' | 'w-tinylfu' | 'chunk-aware'

export interface AccessResult {
  /** The key was cached, with this size, before the access. */
  readonly hit: boolean
  /**
   * The key is cached after the access: false when the object cannot fit,
   * or when a policy with admission (chunk-aware, for chunks) declined it.
   */
  readonly stored: boolean
  /** Keys evicted to make room, oldest decision first. */
  readonly evicted: readonly string[]
}

export interface EvictionPolicy {
  readonly name: PolicyName
  readonly capacityBytes: number
  /** Sum of the sizes of the cached keys; never above capacityBytes. */
  readonly bytes: number
  readonly count: number
  /**
   * One request for `key`, an object of `size` bytes. A hit records the
   * access; a miss inserts the key, evicting others until it fits (a policy
   * with admission may instead decline it). An object larger than the
   * capacity is never cached. A cached key seen with another size counts as
   * a new object: a miss that replaces the old one.
   *
   * `readAhead` marks an insert the edge makes speculatively (READ_AHEAD:
   * the chunks after a missed one), not a client's request. The chunk-aware
   * policy counts it as no request and evicts it first if no client asks for
   * it; the other policies ignore the mark (it is optional for them).
   */
  access(key: string, size: number, readAhead?: boolean): AccessResult
  has(key: string): boolean
  /** Forgets the key (and any memory of it, such as a ghost entry). */
  remove(key: string): boolean
  /** Cached keys, in no promised order. */
  keys(): IterableIterator<string>
}
