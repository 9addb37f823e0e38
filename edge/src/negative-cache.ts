/**
 * Not-found answers remembered for a short while, so a client asking again and again for a
 * track that does not exist costs the origin one request per NEGATIVE_TTL_SEC, not one each.
 * Kept in the isolate only: a 404 is cheap to learn again.
 */
import { type ErrorCode, ProtocolError } from '../../protocol/index.js'

/** A not-found answered from the negative cache rather than the origin. */
export class NegativeHit extends ProtocolError {
  /** Seconds the remembered 404 has left, for Cache-Status `ttl`. */
  readonly ttlSec: number
  constructor(code: ErrorCode, message: string, ttlSec = 0) {
    super(code, message)
    this.name = 'NegativeHit'
    this.ttlSec = ttlSec
  }
}

export interface NegativeCache {
  /** True when the 404 was remembered (false with NEGATIVE_TTL_SEC=0). */
  add(key: string): boolean
  has(key: string): boolean
  /** Seconds left for a remembered 404 (0 when none). */
  remainingSec(key: string): number
  deleteWhere(prefix: string): number
}

const MAX_ENTRIES = 10_000

export function createNegativeCache(options: { ttlSec: number; now: () => number }): NegativeCache {
  const ttlMs = options.ttlSec * 1000
  const expiries = new Map<string, number>()
  return {
    add(key) {
      if (ttlMs <= 0) return false
      // Map order is insertion order: the first key is the oldest, so dropping it bounds memory.
      if (expiries.size >= MAX_ENTRIES) expiries.delete(expiries.keys().next().value as string)
      expiries.delete(key)
      expiries.set(key, options.now() + ttlMs)
      return true
    },
    remainingSec(key) {
      const until = expiries.get(key)
      return until === undefined ? 0 : Math.max(0, Math.ceil((until - options.now()) / 1000))
    },
    has(key) {
      const until = expiries.get(key)
      if (until === undefined) return false
      if (until > options.now()) return true
      expiries.delete(key)
      return false
    },
    deleteWhere(prefix) {
      let n = 0
      for (const key of [...expiries.keys()]) if (key.startsWith(prefix) && expiries.delete(key)) n++
      return n
    },
  }
}
