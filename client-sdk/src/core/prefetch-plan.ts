import { type ChunkLayout, chunkNeededMs } from './scheduler.js'

/**
 * What the client prefetches while a track plays, as values in and values out: the rules of
 * client.ts's prefetch watch and of prefetch.ts, which only carry out what these return, and
 * which the simulation benchmark runs for every listener.
 *
 * - Nothing before the current track has started, nor earlier than `startBeforeEndMs` before
 *   its end: a listener who skips early would have paid for heads never played.
 * - The candidates: the app's queue when it has one, else what the listener's habits predict,
 *   `tracks` of them, in order. One by default: the next track's prefetch starts from 30 s
 *   before the end of the one before it, and a head prefetched two tracks ahead costs a swarm's
 *   offers (RTCPeerConnections) for a track the listener may never reach.
 * - One byte budget for all of them: each prefetch under way counts the bytes of its head; the
 *   first candidate not started yet gets what is left (the rest wait for a later look).
 * - A head is the chunks needed in the first `headSec` (scheduler's headSec), as far as the budget
 *   given to it goes; peers are asked for them first, and `edgeBeforeEndMs` before the end what
 *   no peer sent comes from the edge, for the first `edgeTracks` candidates only. A later
 *   candidate's head is completed from the edge when it is next, before the end of the track
 *   before it: its bytes are the same if it is played, and nothing if the listener leaves or goes
 *   elsewhere first (a session ends with the queue's next heads prefetched).
 * - A head chunk goes to one peer at a time, the first that holds it with fewer than `perPeer`
 *   of this head's requests outstanding (a peer refuses requests past its own cap).
 */
export interface PrefetchRules {
  tracks: number
  byteBudget: number
  startBeforeEndMs: number
  edgeBeforeEndMs: number
  edgeTracks: number
  perPeer: number
}

/**
 * `tracks: 1` (it was 3): in the sim at 1,000,000 listeners (`npm run bench -- sim`) the
 * RTCPeerConnections per listener-minute fell from 1.25 to 1.03, the servers' share moved from
 * 21.2 % to 21.3 % and the prefetched plays from 43.4 % to 42.1 % of all plays.
 */
export const DEFAULT_PREFETCH_RULES: PrefetchRules = {
  tracks: 1,
  byteBudget: 4 * 1024 * 1024,
  startBeforeEndMs: 30_000,
  edgeBeforeEndMs: 10_000,
  edgeTracks: 1,
  perPeer: 4,
}

/** A prefetch the client holds: loading (its manifest not here yet), or its head known. */
export type HeldPrefetch = 'loading' | { headBytes: number; complete: boolean }

export interface PrefetchSituation<T> {
  /** The current track has given its first audio. */
  started: boolean
  /** Audio left in the current track (ms). */
  remainingMs: number
  /** The tracks the app queued, in order. */
  queue: readonly T[]
  /** What habits predict after the current track, at most `n` (asked only without a queue). */
  predict(n: number): T[]
  /** The prefetch held for a track, if any. */
  held(id: T): HeldPrefetch | undefined
}

export type PrefetchAction<T> =
  /** Load the manifest, key and head of `id` within `byteBudget` bytes. */
  | { type: 'start'; id: T; byteBudget: number }
  /** Fetch from the edge the head chunks of `id` that no peer has sent. */
  | { type: 'edge'; id: T }

export function prefetchPlan<T>(s: PrefetchSituation<T>, rules: PrefetchRules = DEFAULT_PREFETCH_RULES): PrefetchAction<T>[] {
  if (rules.tracks <= 0 || !s.started || s.remainingMs > rules.startBeforeEndMs) return []
  const candidates = s.queue.length > 0 ? s.queue.slice(0, rules.tracks) : s.predict(rules.tracks)
  const actions: PrefetchAction<T>[] = []
  let budget = rules.byteBudget
  for (const [position, id] of candidates.entries()) {
    const p = s.held(id)
    // One prefetch per track: a loading one is left to finish.
    if (p === 'loading') continue
    if (p) {
      budget -= p.headBytes
      if (s.remainingMs <= rules.edgeBeforeEndMs && !p.complete && position < rules.edgeTracks) actions.push({ type: 'edge', id })
      continue
    }
    if (budget <= 0) break
    actions.push({ type: 'start', id, byteBudget: budget })
    break
  }
  return actions
}

/** The chunks of a prefetched head, from chunk 0: those needed before `headSec`, while the budget lasts. */
export function headChunks(layout: ChunkLayout, headSec: number, byteBudget: number): number[] {
  const head: number[] = []
  let budget = byteBudget
  // By when each chunk is needed, not the seek table, which for MP4 can name a fragment later.
  for (let i = 0; i < layout.count && chunkNeededMs(layout, i) < headSec * 1000; i++) {
    const size = layout.size(i)
    if (budget < size) break
    budget -= size
    head.push(i)
  }
  return head
}

export interface HeadAsk<P> {
  /** Head chunks not held yet, in order. */
  missing: readonly number[]
  /** Chunks asked of a peer and not answered yet: chunk -> peer. */
  asked: ReadonlyMap<number, P>
  /** The connected peers, in the order they are tried. */
  peers: readonly P[]
  holds(peer: P, index: number): boolean
}

/** Which peer to ask for which missing head chunk now (each request assumed sent, in order). */
export function headRequests<P>(a: HeadAsk<P>, rules: Pick<PrefetchRules, 'perPeer'> = DEFAULT_PREFETCH_RULES): Array<{ index: number; peer: P }> {
  const load = new Map<P, number>()
  for (const p of a.asked.values()) load.set(p, (load.get(p) ?? 0) + 1)
  const out: Array<{ index: number; peer: P }> = []
  for (const index of a.missing) {
    if (a.asked.has(index)) continue
    const peer = a.peers.find((p) => a.holds(p, index) && (load.get(p) ?? 0) < rules.perPeer)
    if (peer === undefined) continue
    load.set(peer, (load.get(peer) ?? 0) + 1)
    out.push({ index, peer })
  }
  return out
}
