/**
 * Virtual time: a binary heap of callbacks by due time (ties in the order they were set, as
 * Node's timers fire). Nothing waits on a wall clock: `run` pops events until the horizon.
 */
export interface EventQueue {
  /** The virtual time, ms. */
  readonly now: number
  /** Runs `fn` `delayMs` from now (never before now). */
  after(delayMs: number, fn: () => void): void
  at(time: number, fn: () => void): void
  /** Runs events until `until` (or none is left, or `stop()` returns true between events). */
  run(until: number, stop?: () => boolean): void
  readonly size: number
}

export function createEventQueue(): EventQueue {
  const times: number[] = []
  const seqs: number[] = []
  const fns: Array<() => void> = []
  let seq = 0
  let now = 0

  const less = (i: number, j: number) => times[i]! < times[j]! || (times[i] === times[j] && seqs[i]! < seqs[j]!)
  const swap = (i: number, j: number) => {
    ;[times[i], times[j]] = [times[j]!, times[i]!]
    ;[seqs[i], seqs[j]] = [seqs[j]!, seqs[i]!]
    ;[fns[i], fns[j]] = [fns[j]!, fns[i]!]
  }

  function push(time: number, fn: () => void): void {
    let i = times.length
    times.push(Math.max(time, now))
    seqs.push(seq++)
    fns.push(fn)
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (!less(i, parent)) break
      swap(i, parent)
      i = parent
    }
  }

  function pop(): () => void {
    const fn = fns[0]!
    const last = times.length - 1
    swap(0, last)
    times.pop()
    seqs.pop()
    fns.pop()
    let i = 0
    for (;;) {
      const l = 2 * i + 1
      const r = l + 1
      let m = i
      if (l < times.length && less(l, m)) m = l
      if (r < times.length && less(r, m)) m = r
      if (m === i) break
      swap(i, m)
      i = m
    }
    return fn
  }

  return {
    get now() {
      return now
    },
    get size() {
      return times.length
    },
    after: (delayMs, fn) => push(now + Math.max(0, delayMs), fn),
    at: (time, fn) => push(time, fn),
    run(until, stop) {
      let n = 0
      while (times.length > 0 && times[0]! <= until) {
        // Checking the stop condition costs a call: every few thousand events is enough.
        if (stop && (++n & 4095) === 0 && stop()) return
        now = times[0]!
        pop()()
      }
      if (times.length === 0 || times[0]! > until) now = Math.max(now, until)
    },
  }
}
