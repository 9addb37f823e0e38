/**
 * What the network layer (p2p/network.ts) does around the connection core
 * (core/peer-connections.ts), as pure rules (values in, values out, the clock and the jitter
 * passed in), so that the simulation runs the same ones:
 *
 * - connection caps: at most `maxConnections` open, `hardMaxConnections` counting those being set
 *   up; an answer is made, and a connection that comes up is kept, only under the hard cap;
 * - an offer unanswered for `offerTtlMs` is one the tracker forgot or its receiver ignored: it goes;
 * - announces: the first at joining only asks who is there (the connection core makes no offer
 *   before the tracker's first reply); on that reply, with someone there, a fetching swarm offers
 *   at once; the next at `firstAnnounceSec`, then at the tracker's interval (kept within
 *   `minIntervalSec`-`maxIntervalSec`), except that a fetching swarm short of peers asks again
 *   sooner, after `retrySec`, doubling per announce in a row that found too few, at most
 *   `retryDoublings` times, each +-`retryJitter`;
 * - after the tracker's `peer_limit` (this listener met as many peers as it introduces in an
 *   hour), no offers to that tracker for `peerLimitPauseMs`: introductions age out over its hour;
 * - a relayed offer is worth answering in a swarm where this listener still fetches, or where it
 *   serves, holds something and has room for more peers.
 */
export interface SwarmRules {
  maxConnections: number
  hardMaxConnections: number
  offerTtlMs: number
  /** How long an answered connection may take to come up, and one this listener offered. */
  answerTimeoutMs: number
  connectTimeoutMs: number
  firstAnnounceSec: number
  minIntervalSec: number
  maxIntervalSec: number
  retrySec: number
  retryDoublings: number
  retryJitter: number
  peerLimitPauseMs: number
}

export const DEFAULT_SWARM_RULES: SwarmRules = {
  maxConnections: 50,
  hardMaxConnections: 60,
  offerTtlMs: 10_000,
  answerTimeoutMs: 10_000,
  connectTimeoutMs: 15_000,
  firstAnnounceSec: 10,
  minIntervalSec: 5,
  maxIntervalSec: 120,
  retrySec: 5,
  retryDoublings: 4,
  retryJitter: 0.2,
  peerLimitPauseMs: 5 * 60_000,
}

/** This listener's connections: open, and being set up (offered or answered, not up yet). */
export interface ConnectionCount {
  open: number
  connecting: number
}

type Caps = Pick<SwarmRules, 'maxConnections' | 'hardMaxConnections'>

/** New connections this listener may still offer (the connection core's `room`). */
export function offerRoom(c: ConnectionCount, rules: Caps = DEFAULT_SWARM_RULES): number {
  return Math.max(0, Math.min(rules.maxConnections - c.open, rules.hardMaxConnections - c.open - c.connecting))
}

/** Whether one more connection fits under the hard cap: to answer an offer (count those being set up) or to keep one that came up (`connecting` 0). */
export function underHardCap(c: ConnectionCount, rules: Pick<SwarmRules, 'hardMaxConnections'> = DEFAULT_SWARM_RULES): boolean {
  return c.open + c.connecting < rules.hardMaxConnections
}

/** Whether an offer sent at `sentAt` and still unanswered at `now` is given up. */
export function offerExpired(sentAt: number, now: number, rules: Pick<SwarmRules, 'offerTtlMs'> = DEFAULT_SWARM_RULES): boolean {
  return now - sentAt > rules.offerTtlMs
}

/** Whether the tracker's reply to an announce makes the swarm look for offers at once: its first reply, someone there, and this listener still fetching. */
export function offerOnReply(r: { first: boolean; others: number | undefined; left: number }): boolean {
  return r.first && (r.others ?? 0) > 0 && r.left > 0
}

/** The tracker's announce interval (s), kept within what this listener accepts. */
export function announceInterval(trackerSec: number, rules: Pick<SwarmRules, 'minIntervalSec' | 'maxIntervalSec'> = DEFAULT_SWARM_RULES): number {
  return Math.max(rules.minIntervalSec, Math.min(rules.maxIntervalSec, trackerSec))
}

/** A swarm as the re-announce rule sees it. */
export interface AnnounceSituation {
  /** Bytes this listener still lacks there. */
  left: number
  /** Connected peers that cover the swarm: asked only for a swarm this listener fetches (counting them walks every peer's chunks). */
  usefulPeers: () => number
  /** Peers connected in the swarm, and others there by the tracker (undefined before its first reply). */
  peers: number
  others: number | undefined
  /** Announces in a row that found too few peers, before this one. */
  lonely: number
  /** Seconds to the next announce otherwise (the tracker's interval, or `firstAnnounceSec`). */
  intervalSec: number
}

/**
 * When the swarm announces next (s), and its new count of lonely announces. `random` is drawn
 * only for a swarm short of peers (the jitter), so a caller's other draws keep their order.
 */
export function nextAnnounce(
  s: AnnounceSituation,
  random: () => number,
  rules: Pick<SwarmRules, 'retrySec' | 'retryDoublings' | 'retryJitter'> & { enoughPeers: number },
): { waitSec: number; lonely: number } {
  const short = s.left > 0 && s.usefulPeers() < rules.enoughPeers && (s.others ?? 1) > s.peers
  if (!short) return { waitSec: s.intervalSec, lonely: 0 }
  const lonely = s.lonely + 1
  const jitter = 1 - rules.retryJitter + random() * 2 * rules.retryJitter
  return { waitSec: Math.min(s.intervalSec, rules.retrySec * 2 ** Math.min(lonely - 1, rules.retryDoublings) * jitter), lonely }
}

/** Until when no offers go to a tracker that said `peer_limit` at `now`. */
export function peerLimitPausedUntil(now: number, rules: Pick<SwarmRules, 'peerLimitPauseMs'> = DEFAULT_SWARM_RULES): number {
  return now + rules.peerLimitPauseMs
}

/** Whether a relayed offer in a swarm is worth answering (offer-admission's `useful`). */
export function answerUseful(s: { left: number; uploads: boolean; peers: number; holdsChunks: boolean }, rules: Pick<SwarmRules, 'maxConnections'> = DEFAULT_SWARM_RULES): boolean {
  return s.left > 0 || (s.uploads && s.peers < rules.maxConnections && s.holdsChunks)
}
