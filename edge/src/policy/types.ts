/**
 * The contract every eviction policy of the edge's memory tier meets.
 *
 * A policy only tracks keys and their sizes; the values live elsewhere (see
 * memory-cache.ts). Keeping values out makes the same policy replayable over
 * millions of requests in a benchmark and usable inside a Worker unchanged.
 */

export type PolicyName = 'lru' | 'sieve' | 's3fifo'

export interface AccessResult {
  /** The key was cached, with this size, before the access. */
  readonly hit: boolean
  /** The key is cached after the access (false when the object cannot fit). */
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
   * access; a miss inserts the key, evicting others until it fits. An object
   * larger than the capacity is never cached. A cached key seen with another
   * size counts as a new object: a miss that replaces the old one.
   */
  access(key: string, size: number): AccessResult
  has(key: string): boolean
  /** Forgets the key (and any memory of it, such as a ghost entry). */
  remove(key: string): boolean
  /** Cached keys, in no promised order. */
  keys(): IterableIterator<string>
}
