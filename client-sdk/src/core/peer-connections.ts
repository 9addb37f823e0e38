/**
 * When this listener makes an RTCPeerConnection and when it ends one, as a pure core (values in,
 * values out, the clock passed in), for the network layer (p2p/network.ts) and the simulation.
 *
 * One connection per remote listener, carrying every swarm both are in (protocol/src/peer.ts:
 * `swarm`, `leave`, `on`). A new connection costs an offer, and an offer costs a whole
 * RTCPeerConnection whether or not anybody answers it, so:
 *
 * - a swarm this listener joins to fetch is first asked of the peers it is connected to already
 *   (over their links); offers go out only after `askMs`, and only while fewer than
 *   `enoughPeers` connected peers hold something it lacks there, at most `maxOffersPerAnnounce`
 *   at a time, counting those still unanswered;
 * - every offer spends a token of one budget for the whole client (`offerBurst`, refilled at
 *   `offersPerMinute`), so a listener never offers faster than that whatever its swarms do;
 * - a connection that carries no swarm this listener fetches and has moved no chunk either way
 *   for `idleMs` is closed (bye): it stays that long so that the next track can reuse it.
 */
export interface ConnectionRules {
  enoughPeers: number
  maxOffersPerAnnounce: number
  askMs: number
  offerBurst: number
  offersPerMinute: number
  idleMs: number
}

export const DEFAULT_CONNECTION_RULES: ConnectionRules = {
  enoughPeers: 2,
  maxOffersPerAnnounce: 1,
  askMs: 1_500,
  offerBurst: 3,
  offersPerMinute: 1,
  idleMs: 60_000,
}

/** One swarm at one announce, as the network sees it. */
export interface OfferSituation {
  now: number
  /** Bytes this listener still lacks in the swarm (0: it holds the track; holders make no offers). */
  left: number
  /** Others in the swarm by the tracker's last reply; undefined before one. */
  others: number | undefined
  /** Peers connected in the swarm now, and those of them that can cover it (PeerSet.usefulPeers: not choking, holding at least half of what this listener lacks). */
  peers: number
  usefulPeers: number
  /** This swarm's offers not answered yet. */
  pending: number
  /** Connections this listener may still set up (its caps). */
  room: number
  /** The tracker said this listener met all the peers it may meet this hour. */
  paused: boolean
  /** Until when connected peers may still say they are in the swarm (the join asked of them); 0: none asked. */
  askedUntil: number
  /** Whole offers the client's budget allows now (OfferBudget.available). */
  budget: number
}

export type OfferDecision = { offers: number; reason: 'offer' } | { offers: 0; reason: 'holder' | 'paused' | 'alone' | 'covered' | 'asking' | 'pending' | 'full' | 'budget'; retryAt?: number }

/** How many offers one announce of a swarm carries, and, when none, why (and when asking again may help). */
export function offersToMake(s: OfferSituation, rules: ConnectionRules = DEFAULT_CONNECTION_RULES): OfferDecision {
  if (s.left <= 0) return { offers: 0, reason: 'holder' }
  if (s.paused) return { offers: 0, reason: 'paused' }
  // Nobody else there, or everyone there is on this listener's links already: nobody new could answer. Those who join later offer to us.
  if (s.others === undefined || s.others <= s.peers) return { offers: 0, reason: 'alone' }
  if (s.usefulPeers >= rules.enoughPeers) return { offers: 0, reason: 'covered' }
  if (s.now < s.askedUntil) return { offers: 0, reason: 'asking', retryAt: s.askedUntil }
  // Only those this listener is not connected to can answer an offer (the others are on its links already).
  const want = Math.min(rules.maxOffersPerAnnounce, rules.enoughPeers - s.usefulPeers, s.others - s.peers) - s.pending
  if (want <= 0) return { offers: 0, reason: 'pending' }
  if (s.room <= 0) return { offers: 0, reason: 'full' }
  const n = Math.min(want, s.room, Math.floor(s.budget))
  return n > 0 ? { offers: n, reason: 'offer' } : { offers: 0, reason: 'budget' }
}

/** Whether a connected peer (not choking) covers a swarm: it holds `has` of the `lacking` chunks this listener lacks there. A peer with a few chunks of the track is not one to fetch the rest from. */
export function coversSwarm(p: { has: number; lacking: number }): boolean {
  return p.has > 0 && p.has * 2 >= p.lacking
}

/** The client's offer budget: a token per RTCPeerConnection made to offer. */
export interface OfferBudget {
  /** Whole offers that may be made now. */
  available(now: number): number
  /** Spends `n` tokens. */
  spend(n: number, now: number): void
}

export function createOfferBudget(rules: Pick<ConnectionRules, 'offerBurst' | 'offersPerMinute'> = DEFAULT_CONNECTION_RULES): OfferBudget {
  let tokens = rules.offerBurst
  let last: number | undefined
  const refill = (now: number) => {
    if (last !== undefined) tokens = Math.min(rules.offerBurst, tokens + ((now - last) / 60_000) * rules.offersPerMinute)
    last = now
  }
  return {
    available(now) {
      refill(now)
      return Math.floor(tokens)
    },
    spend(n, now) {
      refill(now)
      tokens -= n
    },
  }
}

/** One connection, as the idle rule sees it. */
export interface ConnectionActivity {
  /** Swarms open on the connection in which this listener still fetches. */
  fetching: number
  /** Last time a chunk's byte went either way, a swarm opened or closed on it, or it connected. */
  lastActivity: number
}

/** Whether to close a connection now: it carries nothing this listener fetches and has been quiet for `idleMs`. */
export function idleConnection(c: ConnectionActivity, now: number, rules: Pick<ConnectionRules, 'idleMs'> = DEFAULT_CONNECTION_RULES): boolean {
  return c.fetching === 0 && now - c.lastActivity >= rules.idleMs
}

/** How often the network looks for idle connections while it has any: often enough that one closes soon after `idleMs`, rarely enough to cost nothing. */
export function idleSweepMs(rules: Pick<ConnectionRules, 'idleMs'> = DEFAULT_CONNECTION_RULES): number {
  return Math.max(1000, Math.min(10_000, rules.idleMs / 4))
}

/** Whether this listener tells a connected peer, unasked, that it is in a swarm: only when it fetches there (a seeder waits to be asked, so peers learn what it seeds only by asking for it). */
export function announceOnLinks(s: { left: number; refused: boolean; closed: boolean }): boolean {
  return !s.closed && !s.refused && s.left > 0
}
