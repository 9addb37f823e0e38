/**
 * Concurrent requests for one key share one piece of work: the first starts it, the others
 * wait for its result. This is what turns 200 cold requests for a chunk into one origin fetch.
 * Only in-flight work is shared; a finished result is the tiers' business, not this map's.
 */
export interface Coalescer<T> {
  /** `joined` is true when the caller waits for work another caller started. */
  run(key: string, work: () => Promise<T>): { promise: Promise<T>; joined: boolean }
  has(key: string): boolean
  readonly size: number
}

export function createCoalescer<T>(): Coalescer<T> {
  const inflight = new Map<string, Promise<T>>()
  return {
    run(key, work) {
      const existing = inflight.get(key)
      if (existing) return { promise: existing, joined: true }
      // Started on the next line after registration, so a synchronous throw in `work` is a rejection too.
      const promise = Promise.resolve()
        .then(work)
        .finally(() => inflight.delete(key))
      inflight.set(key, promise)
      return { promise, joined: false }
    },
    has: (key) => inflight.has(key),
    get size() {
      return inflight.size
    },
  }
}
