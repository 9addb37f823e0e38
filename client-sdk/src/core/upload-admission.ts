import type { UploadBudget } from './upload-budget.js'

/**
 * Which requests from peers this listener serves, as a pure core (the caller passes the time and
 * carries out the answers). Each peer's accepted requests wait in its own queue and go out one
 * chunk at a time; at most `slots` peers are served at once; a peer has at most `perPeer`
 * requests outstanding (queued or being sent), and a request past that is refused; every
 * accepted chunk is covered by the upload budget (the ratio rule) before it is queued. A cancel
 * takes a queued chunk out, or stops the one being sent. A peer that keeps asking past its cap,
 * or repeats requests already queued, more than `maxAbuse` times breaks the protocol: the caller
 * drops it.
 */
export interface UploadAdmissionOptions {
  slots: number
  perPeer: number
  maxAbuse: number
}

export const DEFAULT_UPLOAD_ADMISSION: UploadAdmissionOptions = { slots: 4, perPeer: 16, maxAbuse: 64 }

/**
 * A peer refused for the ratio rule is choked as well, so that it stops asking (again at most
 * every `rechokeMs`); those choked are unchoked together once `unchokeBytes` may go up again,
 * looked at every `checkMs` and as downloads raise the budget, unless an emergency holds every upload.
 */
export interface RatioChokeRules {
  rechokeMs: number
  checkMs: number
  unchokeBytes: number
}

export const DEFAULT_RATIO_CHOKE: RatioChokeRules = { rechokeMs: 1000, checkMs: 2000, unchokeBytes: 256 * 1024 }

/** Whether to choke a peer refused for the ratio rule at `now`, having choked it last at `lastAt` (undefined: not choked). */
export function chokeForRatio(lastAt: number | undefined, now: number, rules: Pick<RatioChokeRules, 'rechokeMs'> = DEFAULT_RATIO_CHOKE): boolean {
  return lastAt === undefined || now - lastAt >= rules.rechokeMs
}

/** Whether the peers choked for the ratio rule may ask again: `available` is what the upload budget may still promise. */
export function unchokeAfterRatio(s: { emergency: boolean; available: number }, rules: Pick<RatioChokeRules, 'unchokeBytes'> = DEFAULT_RATIO_CHOKE): boolean {
  return !s.emergency && s.available >= rules.unchokeBytes
}

export type RefusalReason = 'download_only' | 'emergency' | 'not_held' | 'slots' | 'per_peer' | 'ratio'

type RequestDecision =
  | { type: 'queued' }
  | { type: 'refused'; reason: RefusalReason }
  /** Already queued or being sent to this peer: nothing to do. */
  | { type: 'duplicate' }
  | { type: 'violation'; reason: string }

type CancelDecision = { type: 'dropped' } | { type: 'abort' } | { type: 'none' }

interface RequestContext {
  /** False for a download-only listener. */
  uploads: boolean
  /** A playback is low on buffer: nobody is served until it recovers. */
  emergency: boolean
  /** This listener holds a verified copy of the chunk. */
  holds: boolean
  /** The chunk's length. */
  length: number
  now: number
}

interface Item {
  index: number
  length: number
}

interface PeerUploads {
  queue: Item[]
  active: Item | undefined
  abuse: number
}

/** Upload admission for one listener: peers are named by link key; every method that moves time takes `now`. */
export interface UploadAdmission {
  /** A peer asks for chunk `index`: queued (the budget reserved), refused with a reason, a duplicate, or a violation (drop the peer). */
  request(peer: string, index: number, ctx: RequestContext): RequestDecision
  /** The next chunk to send to `peer`, when none is being sent to it (it becomes the one being sent). */
  next(peer: string): { index: number; length: number } | undefined
  /** A cancel: a queued chunk is dropped (its reservation returned), the one being sent is to be aborted, or nothing. */
  cancel(peer: string, index: number, now: number): CancelDecision
  /** The chunk being sent to `peer` is done (whole, or cut short by a cancel or a closed link): `sentBytes` went out. */
  finished(peer: string, index: number, sentBytes: number, now: number): void
  /** The peer is gone: its queue is dropped (the chunk being sent, if any, still ends with finished()). */
  dropPeer(peer: string, now: number): void
  /** Requests of `peer` queued or being sent. */
  outstanding(peer: string): number
  /** Peers being served now (something queued or being sent). */
  serving(): number
  /** Requests refused so far, by reason. */
  refused(): Record<RefusalReason, number>
}

export function createUploadAdmission(options: UploadAdmissionOptions, budget: UploadBudget): UploadAdmission {
  const peers = new Map<string, PeerUploads>()
  const refused: Record<RefusalReason, number> = { download_only: 0, emergency: 0, not_held: 0, slots: 0, per_peer: 0, ratio: 0 }
  const busy = (p: PeerUploads | undefined) => p !== undefined && (p.active !== undefined || p.queue.length > 0)
  const serving = () => {
    let n = 0
    for (const p of peers.values()) if (busy(p)) n++
    return n
  }
  const refuse = (reason: RefusalReason): RequestDecision => {
    refused[reason]++
    return { type: 'refused', reason }
  }

  function abused(p: PeerUploads, what: string): RequestDecision | undefined {
    p.abuse++
    return p.abuse > options.maxAbuse ? { type: 'violation', reason: `${p.abuse} requests ${what}` } : undefined
  }

  return {
    request(peer: string, index: number, ctx: RequestContext): RequestDecision {
      let p = peers.get(peer)
      if (!p) {
        p = { queue: [], active: undefined, abuse: 0 }
        peers.set(peer, p)
      }
      if (p.active?.index === index || p.queue.some((i) => i.index === index)) return abused(p, 'repeated while queued') ?? { type: 'duplicate' }
      if (!ctx.uploads) return refuse('download_only')
      if (ctx.emergency) return refuse('emergency')
      if (!ctx.holds) return refuse('not_held')
      const outstanding = p.queue.length + (p.active ? 1 : 0)
      if (outstanding >= options.perPeer) return abused(p, `past the cap of ${options.perPeer} outstanding`) ?? refuse('per_peer')
      if (!busy(p) && serving() >= options.slots) return refuse('slots')
      if (!budget.reserve(ctx.length, ctx.now)) return refuse('ratio')
      p.queue.push({ index, length: ctx.length })
      return { type: 'queued' }
    },
    next(peer: string): { index: number; length: number } | undefined {
      const p = peers.get(peer)
      if (!p || p.active || p.queue.length === 0) return undefined
      p.active = p.queue.shift()!
      return p.active
    },
    cancel(peer: string, index: number, now: number): CancelDecision {
      const p = peers.get(peer)
      if (!p) return { type: 'none' }
      if (p.active?.index === index) return { type: 'abort' }
      const at = p.queue.findIndex((i) => i.index === index)
      if (at < 0) return { type: 'none' }
      const [item] = p.queue.splice(at, 1)
      budget.settle(item!.length, 0, now)
      return { type: 'dropped' }
    },
    finished(peer: string, index: number, sentBytes: number, now: number): void {
      const p = peers.get(peer)
      if (!p || p.active?.index !== index) return
      budget.settle(p.active.length, sentBytes, now)
      p.active = undefined
      if (!busy(p) && p.abuse === 0) peers.delete(peer)
    },
    dropPeer(peer: string, now: number): void {
      const p = peers.get(peer)
      if (!p) return
      for (const item of p.queue) budget.settle(item.length, 0, now)
      p.queue = []
      if (!p.active) peers.delete(peer)
    },
    outstanding(peer: string): number {
      const p = peers.get(peer)
      return p ? p.queue.length + (p.active ? 1 : 0) : 0
    },
    serving,
    refused: () => ({ ...refused }),
  }
}
