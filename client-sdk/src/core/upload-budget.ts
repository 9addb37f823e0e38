/**
 * How much a listener may upload, as a pure core (the caller passes the time): over any window
 * of `windowMs`, what it uploads stays within `allowanceBytes` plus `ratio` times what it
 * downloaded (from the edge and from peers) in the same window. The allowance lets a listener
 * that has not played anything lately still seed a few tracks from its cache; the ratio keeps a
 * listener from becoming a free server for others however many of them ask.
 *
 * The window slides in `buckets` steps: traffic older than the window is forgotten a bucket at a
 * time. Bytes are reserved when a chunk is accepted and settled (the part actually sent is
 * counted) when it ends, so chunks accepted together cannot overdraw the budget between them.
 */
export interface UploadBudgetOptions {
  /** Upload at most this many times the download (Infinity: no ratio rule). */
  ratio: number
  windowMs: number
  allowanceBytes: number
  buckets?: number
}

export const DEFAULT_UPLOAD_BUDGET: UploadBudgetOptions = {
  ratio: 2,
  windowMs: 10 * 60_000,
  allowanceBytes: 8 * 1024 * 1024,
}

/** The budget of one listener's uploads; every method takes the time (ms, any monotonic origin). */
export interface UploadBudget {
  /** Bytes that may still be promised now (Infinity without a ratio rule). */
  available(now: number): number
  /** Bytes downloaded (from the edge or peers): they raise the budget for the window. */
  downloaded(bytes: number, now: number): void
  /** Promises `bytes` for a chunk about to go out; false when the budget cannot cover them. */
  reserve(bytes: number, now: number): boolean
  /** The chunk promised `reservedBytes` ended having sent `sentBytes` (less when cancelled). */
  settle(reservedBytes: number, sentBytes: number, now: number): void
  /** For stats: bytes downloaded and uploaded in the current window. */
  window(now: number): { downloaded: number; uploaded: number }
}

export function createUploadBudget(options: UploadBudgetOptions): UploadBudget {
  const buckets = options.buckets ?? 10
  const step = options.windowMs / buckets
  // Ring of [download, upload] per bucket, bucket k covering [k*step, (k+1)*step).
  const down = new Float64Array(buckets)
  const up = new Float64Array(buckets)
  let head = -1
  let reserved = 0
  const unlimited = !Number.isFinite(options.ratio) || !Number.isFinite(options.allowanceBytes)

  function advance(now: number): number {
    const k = Math.floor(now / step)
    if (head < 0 || k - head >= buckets) {
      down.fill(0)
      up.fill(0)
    } else {
      for (let i = head + 1; i <= k; i++) {
        down[i % buckets] = 0
        up[i % buckets] = 0
      }
    }
    if (k > head) head = k
    return head % buckets
  }

  const sum = (a: Float64Array) => a.reduce((n, x) => n + x, 0)

  function available(now: number): number {
    if (unlimited) return Number.POSITIVE_INFINITY
    advance(now)
    return Math.max(0, options.allowanceBytes + options.ratio * sum(down) - sum(up) - reserved)
  }

  return {
    available,
    downloaded(bytes: number, now: number): void {
      down[advance(now)]! += bytes
    },
    reserve(bytes: number, now: number): boolean {
      if (available(now) < bytes) return false
      reserved += bytes
      return true
    },
    settle(reservedBytes: number, sentBytes: number, now: number): void {
      reserved = Math.max(0, reserved - reservedBytes)
      up[advance(now)]! += sentBytes
    },
    window(now: number): { downloaded: number; uploaded: number } {
      advance(now)
      return { downloaded: sum(down), uploaded: sum(up) }
    },
  }
}
