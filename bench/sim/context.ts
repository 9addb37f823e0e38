import type { ConnectionRules, SchedulerConfig } from '../../client-sdk/core.js'
import type { SimCatalog } from './catalog.js'
import type { EdgeModel } from './edge-model.js'
import type { EventQueue } from './event-queue.js'
import type { Metrics } from './metrics.js'
import type { TrackerLink } from './tracker-link.js'
import type { AnswerAttempt, ClientState, SimListener } from './types.js'

/** Everything one simulated world shares. */
export interface SimContext {
  q: EventQueue
  random: () => number
  catalog: SimCatalog
  edge: EdgeModel
  tracker: TrackerLink | undefined
  metrics: Metrics
  /** Listeners met so far, by index. */
  listeners: Map<number, SimListener>
  /** Online listeners holding some of each track in their cache: who could serve a play of it at all. */
  holders: Map<number, number>
  p2p: boolean
  connectSuccess: number
  scheduler: SchedulerConfig
  /** Counter for offer ids. */
  seq: number
  /**
   * The SDK's seeding rules, and what-if variants of them: swarms kept with nothing playing in
   * them, whether a swarm with nothing left to fetch sends offers (the SDK: no; the what-if tells
   * the offer core it still fetches), and how many whole cached tracks a new session seeds.
   */
  seeding: { tracks: number; holderOffers: boolean; fromCache: number }
  /** The SDK's connection rules (core/peer-connections.ts), or a what-if variant of them. */
  connections: ConnectionRules
  /** Offers answered, by offer id, until the offerer connects or the answerer gives up. */
  answering: Map<string, { client: ClientState; attempt: AnswerAttempt }>
}

/** A 40-hex-char id (as the SDK writes them): a tag for its kind, then the number. */
export const hex40 = (n: number, tag: 'b' | 'c' | 'd') => `${tag}${n.toString(16).padStart(39, '0')}`
