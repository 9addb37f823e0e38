/**
 * An upload rate cap as a token bucket: `take(bytes, now)` says how long to wait before sending
 * them. Pure: the caller owns the clock and the waiting.
 */
export interface TokenBucket {
  /** Milliseconds to wait before `bytes` may go (0: now). Tokens are spent either way. */
  take(bytes: number, now: number): number
}

/** A cap of `bytesPerSecond` (none when 0 or Infinity), with bursts up to `burstBytes`. */
export function createTokenBucket(bytesPerSecond: number, burstBytes = Math.max(64 * 1024, bytesPerSecond / 4)): TokenBucket {
  let tokens = burstBytes
  let last = 0
  return {
    take(bytes, now) {
      if (!Number.isFinite(bytesPerSecond) || bytesPerSecond <= 0) return 0
      tokens = Math.min(burstBytes, tokens + ((now - last) / 1000) * bytesPerSecond)
      last = now
      tokens -= bytes
      return tokens >= 0 ? 0 : (-tokens / bytesPerSecond) * 1000
    },
  }
}
