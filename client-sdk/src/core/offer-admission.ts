/**
 * Which offers relayed by the tracker this listener answers, as a pure core (the caller passes
 * the time and makes the connections). Every answer is a whole RTCPeerConnection that may sit
 * for seconds waiting for ICE, so anyone who can announce into a swarm could otherwise keep a
 * listener busy answering offers that never connect, and honest peers would find it full.
 *
 * - At most `maxPending` answered connections are being set up at once (`maxPendingPerSwarm` of
 *   them in one swarm), one per remote peer and swarm, and answers start at `ratePerSec` on
 *   average (bursts of `burst`).
 * - When they are all taken, an offer from a remote and certificate never seen failing takes the
 *   place of the oldest attempt that has had `minAttemptMs` to connect and did not (an honest
 *   peer connects well within that; the one replaced counts as failed). So a flood cannot hold
 *   every place: each place is held for a few seconds at a time, and only by an offer that has
 *   not failed before.
 * - Otherwise an offer waits in a small queue (`queue` offers, each for `maxAgeMs`: under a flood
 *   the tracker forgets an unanswered offer of this listener's socket within seconds); when room
 *   frees, the best waiting offer is answered: one never seen failing first, then one in the
 *   swarm where this listener has the fewest peers (`peerSetSize`), then the newest.
 * - A remote whose answered connection did not come up is answered again only after a backoff
 *   (`failureBackoffMs`, doubling per failure); so is any offer carrying the same DTLS
 *   certificate fingerprint, so made-up peer ids reusing one offer are one failure.
 * - Offers the listener cannot use are not answered at all: the caller says so (`useful`: it
 *   wants chunks in that swarm, or can serve them; `sane`: the SDP has what a data channel needs).
 */
export interface OfferAdmissionOptions {
  maxPending: number
  maxPendingPerSwarm: number
  ratePerSec: number
  burst: number
  queue: number
  maxAgeMs: number
  minAttemptMs: number
  failureBackoffMs: number
  maxFailureBackoffMs: number
  /** Failure records kept (oldest forgotten first). */
  maxFailures: number
}

export const DEFAULT_OFFER_ADMISSION: OfferAdmissionOptions = {
  maxPending: 8,
  maxPendingPerSwarm: 4,
  ratePerSec: 2,
  burst: 8,
  queue: 32,
  maxAgeMs: 5_000,
  minAttemptMs: 3_000,
  failureBackoffMs: 30_000,
  maxFailureBackoffMs: 10 * 60_000,
  maxFailures: 1024,
}

export interface OfferCandidate<T> {
  /** The swarm's info_hash. */
  swarm: string
  /** The offerer's peer id. */
  remote: string
  /** The DTLS certificate fingerprint the SDP names ('' when none). */
  fingerprint: string
  /** The size of this listener's peer set in the swarm now (peers it is connected to there). */
  peerSetSize: number
  useful: boolean
  sane: boolean
  /** Whatever the caller needs to answer it later (the offer itself). */
  payload: T
}

type OfferDecision =
  /** Answer it (attempt `id`); first give up attempt `replaces` (it counts as failed already). */
  { type: 'answer'; id: number; replaces?: number } | { type: 'queued' } | { type: 'ignored'; reason: 'useless' | 'insane' | 'pending' | 'backoff' | 'full' }

interface Waiting<T> extends OfferCandidate<T> {
  at: number
}

interface Attempt {
  id: number
  swarm: string
  remote: string
  fingerprint: string
  at: number
}

interface Failure {
  count: number
  until: number
}

/** `admission.stats()`: offers answered, queued and ignored so far, attempts settled, and the state now. */
export interface OfferAdmissionStats {
  answered: number
  queued: number
  ignored: number
  connected: number
  failed: number
  /** Answered connections being set up now. */
  pending: number
  /** Offers waiting in the queue now. */
  waiting: number
}

/** One listener's offer admission; `T` is what the caller keeps with each offer (OfferCandidate.payload). Times are ms on the caller's clock. */
export interface OfferAdmission<T> {
  /** An offer arrived: answer it now (perhaps in the place of a stale attempt), keep it for later, or not at all. */
  consider(c: OfferCandidate<T>, now: number): OfferDecision
  /** Attempt `id` came up (ok: its remote's failures are forgiven) or did not (backoff); a replaced attempt is settled already. */
  settled(id: number, ok: boolean, now: number): void
  /**
   * The waiting offers to answer now, best first: where there is room, or in the place of an
   * attempt that had its time (as in consider()). Each returned one counts as being set up;
   * `replaces` names the attempt to give up first. `stillWanted` says whether the caller can
   * still use one (its remote may have connected meanwhile).
   */
  next(now: number, stillWanted: (c: OfferCandidate<T>) => boolean): Array<OfferCandidate<T> & { id: number; replaces?: number }>
  /**
   * When next() may have something to answer (ms from now): when the rate allows the next
   * answer, or the oldest attempt has had its time; undefined when only a settled attempt can
   * make room (or none is waiting).
   */
  retryInMs(now: number): number | undefined
  /** Answered connections being set up now. */
  readonly pending: number
  /** Offers waiting now. */
  readonly waiting: number
  stats(): OfferAdmissionStats
}

export function createOfferAdmission<T>(options: OfferAdmissionOptions = DEFAULT_OFFER_ADMISSION): OfferAdmission<T> {
  /** swarm + remote -> the connection being set up: its certificate fingerprint, since when. Insertion order is age. */
  const pending = new Map<string, Attempt>()
  let ids = 0
  const waiting: Waiting<T>[] = []
  const failures = new Map<string, Failure>()
  let tokens = options.burst
  let last: number | undefined
  const counters = { answered: 0, queued: 0, ignored: 0, connected: 0, failed: 0 }

  const keyOf = (swarm: string, remote: string) => `${swarm} ${remote}`
  const failureKeys = (remote: string, fingerprint: string) => (fingerprint ? [`r:${remote}`, `f:${fingerprint}`] : [`r:${remote}`])

  function refill(now: number): void {
    if (last !== undefined) tokens = Math.min(options.burst, tokens + ((now - last) / 1000) * options.ratePerSec)
    last = now
  }

  function failedBefore(c: { remote: string; fingerprint: string }): boolean {
    return failureKeys(c.remote, c.fingerprint).some((k) => failures.has(k))
  }

  function inBackoff(c: { remote: string; fingerprint: string }, now: number): boolean {
    return failureKeys(c.remote, c.fingerprint).some((k) => (failures.get(k)?.until ?? 0) > now)
  }

  function pendingIn(swarm: string): number {
    let n = 0
    for (const p of pending.values()) if (p.swarm === swarm) n++
    return n
  }

  function room(swarm: string, now: number): boolean {
    refill(now)
    return pending.size < options.maxPending && pendingIn(swarm) < options.maxPendingPerSwarm && tokens >= 1
  }

  function start(c: OfferCandidate<T>, now: number): number {
    tokens -= 1
    const id = ++ids
    pending.set(keyOf(c.swarm, c.remote), { id, swarm: c.swarm, remote: c.remote, fingerprint: c.fingerprint, at: now })
    counters.answered++
    return id
  }

  function fail(p: { remote: string; fingerprint: string }, now: number): void {
    counters.failed++
    for (const k of failureKeys(p.remote, p.fingerprint)) {
      const count = (failures.get(k)?.count ?? 0) + 1
      failures.delete(k)
      failures.set(k, { count, until: now + Math.min(options.maxFailureBackoffMs, options.failureBackoffMs * 2 ** (count - 1)) })
    }
    while (failures.size > options.maxFailures) failures.delete(failures.keys().next().value!)
  }

  /** The oldest attempt a new offer in `swarm` may replace: in that swarm when the swarm is at its cap, else anywhere. */
  function replaceable(swarm: string, now: number): Attempt | undefined {
    const inSwarm = pendingIn(swarm) >= options.maxPendingPerSwarm
    for (const p of pending.values()) {
      if (inSwarm && p.swarm !== swarm) continue
      return now - p.at >= options.minAttemptMs ? p : undefined
    }
    return undefined
  }

  const better = (a: Waiting<T>, b: Waiting<T>) => {
    const fa = failedBefore(a) ? 1 : 0
    const fb = failedBefore(b) ? 1 : 0
    if (fa !== fb) return fa < fb
    if (a.peerSetSize !== b.peerSetSize) return a.peerSetSize < b.peerSetSize
    return a.at > b.at
  }

  return {
    consider(c: OfferCandidate<T>, now: number): OfferDecision {
      const ignore = (reason: Extract<OfferDecision, { type: 'ignored' }>['reason']): OfferDecision => {
        counters.ignored++
        return { type: 'ignored', reason }
      }
      if (!c.sane) return ignore('insane')
      if (!c.useful) return ignore('useless')
      if (pending.has(keyOf(c.swarm, c.remote))) return ignore('pending')
      if (inBackoff(c, now)) return ignore('backoff')
      if (room(c.swarm, now)) return { type: 'answer', id: start(c, now) }
      const old = tokens >= 1 && !failedBefore(c) ? replaceable(c.swarm, now) : undefined
      if (old) {
        pending.delete(keyOf(old.swarm, old.remote))
        fail(old, now)
        return { type: 'answer', id: start(c, now), replaces: old.id }
      }
      if (options.queue === 0) return ignore('full')
      // One waiting offer per remote and swarm: the newest (the offerer forgets older ones first).
      const same = waiting.findIndex((w) => w.swarm === c.swarm && w.remote === c.remote)
      if (same >= 0) waiting.splice(same, 1)
      waiting.push({ ...c, at: now })
      if (waiting.length > options.queue) {
        // The worst goes.
        let worst = 0
        for (let i = 1; i < waiting.length; i++) if (better(waiting[worst]!, waiting[i]!)) worst = i
        waiting.splice(worst, 1)
      }
      counters.queued++
      return { type: 'queued' }
    },
    settled(id: number, ok: boolean, now: number): void {
      let p: Attempt | undefined
      for (const a of pending.values()) if (a.id === id) p = a
      if (!p) return
      pending.delete(keyOf(p.swarm, p.remote))
      if (ok) {
        counters.connected++
        for (const k of failureKeys(p.remote, p.fingerprint)) failures.delete(k)
        return
      }
      fail(p, now)
    },
    next(now: number, stillWanted: (c: OfferCandidate<T>) => boolean): Array<OfferCandidate<T> & { id: number; replaces?: number }> {
      const out: Array<OfferCandidate<T> & { id: number; replaces?: number }> = []
      for (let i = waiting.length - 1; i >= 0; i--) {
        const w = waiting[i]!
        if (now - w.at > options.maxAgeMs || inBackoff(w, now) || pending.has(keyOf(w.swarm, w.remote)) || !stillWanted(w)) waiting.splice(i, 1)
      }
      for (;;) {
        let best = -1
        let old: Attempt | undefined
        for (let i = 0; i < waiting.length; i++) {
          const w = waiting[i]!
          const free = room(w.swarm, now)
          const replace = free || tokens < 1 || failedBefore(w) ? undefined : replaceable(w.swarm, now)
          if (!free && !replace) continue
          if (best < 0 || better(w, waiting[best]!)) {
            best = i
            old = replace
          }
        }
        if (best < 0) break
        const [w] = waiting.splice(best, 1)
        if (old) {
          pending.delete(keyOf(old.swarm, old.remote))
          fail(old, now)
        }
        out.push({ ...w!, id: start(w!, now), ...(old && { replaces: old.id }) })
      }
      return out
    },
    retryInMs(now: number): number | undefined {
      if (waiting.length === 0) return undefined
      refill(now)
      if (tokens < 1) return Math.ceil(((1 - tokens) / options.ratePerSec) * 1000)
      if (waiting.some((w) => room(w.swarm, now))) return 0
      if (waiting.every((w) => failedBefore(w))) return undefined
      const oldest = pending.values().next().value
      return oldest ? Math.max(0, oldest.at + options.minAttemptMs - now) : 0
    },
    get pending() {
      return pending.size
    },
    get waiting() {
      return waiting.length
    },
    stats: () => ({ ...counters, pending: pending.size, waiting: waiting.length }),
  }
}
