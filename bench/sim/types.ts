import type { Habits, OfferAdmission, UploadAdmission, UploadBudget, createOfferBudget } from '../../client-sdk/core.js'
import type { NetworkProfile, PlannedPlay } from '../playback/scenario.js'
import type { EdgeListener } from './edge-model.js'
import type { TrackerPeer } from './tracker-link.js'

/** A listener of the simulation: its network, its cache and habits (kept across sessions), and its client while online. */
export interface SimListener extends EdgeListener, TrackerPeer {
  index: number
  /** 40 hex chars, as the SDK writes peer ids. */
  peerId: string
  net: NetworkProfile
  cache: ListenerCache
  habits: Habits
  favourites: number[]
  /** Upload pacing: the SDK's token bucket core. */
  bucket: { take(bytes: number, now: number): number }
  client: ClientState | undefined
  sessions: number
  /** Key leases on this device (the SDK's keyCache): track -> when the lease runs out. */
  leases: Map<number, number>
}

/** Chunks held per track, least recently used first (a Map keeps insertion order). */
export interface ListenerCache {
  tracks: Map<number, Uint8Array>
  bytes: number
  /** A chunk came in (from the edge or a peer) and was kept: the SDK counts it toward what it may upload. */
  onStore?: (bytes: number) => void
  /** A track entered the cache (held) or was evicted from it: the world's count of online holders. */
  onTrack?: (track: number, held: boolean) => void
}

/** What a swarm tells the playback or the prefetch listening to it (the SDK's PeerSetListener). */
export interface SwarmHooks {
  onPeer?(peer: number, holds: Iterable<number>): void
  onHave?(peer: number, index: number): void
  onChoke?(peer: number, choked: boolean): void
  onPeerGone?(peer: number): void
  onReject?(index: number, peer: number): void
  onChunk?(index: number, bytes: number, peer: number): void
}

export interface SwarmEntry {
  track: number
  infoHash: string
  closed: boolean
  /** Offers sent and not answered yet: offer id -> when. */
  pending: Map<string, number>
  /** Peers in the swarm with this listener (listener indices): its lane is open on their connection. */
  peers: Set<number>
  hooks: Set<SwarmHooks>
  /** Bumped to cancel the scheduled announce. */
  timer: number
  left: () => number
  /** Others the tracker says are in the swarm (its last reply); undefined before one. */
  others: number | undefined
  /** Announces in a row that found too few peers (the wait before the next one grows). */
  lonely: number
  /** Until when connected peers asked about the swarm may still say they are in it. */
  askedUntil: number
  /** A look for offers is set for when the asked peers have had the time. */
  offerRetry: boolean
}

/**
 * One connection (one RTCPeerConnection) between two listeners, shared by both ends, carrying
 * every swarm both take part in on it (the SDK's peer-wire.ts). Per end (index 0: ends[0]): the
 * swarms it said it is in, and those it heard the other end say; a swarm's lane is open at an
 * end when both hold it there.
 */
export interface SimLink {
  ends: [number, number]
  /** The swarm the connection was made for (no `swarm` message for it). */
  home: number
  said: [Set<number>, Set<number>]
  heard: [Set<number>, Set<number>]
  /** Last time a chunk moved either way, a lane opened or closed, or it connected. */
  lastActivity: number
  closed: boolean
}

interface ClientStats {
  plays: number
  prefetchedPlays: number
  prefetchedBytes: number
  prefetchedBytesUnused: number
  /** RTCPeerConnections made to offer, and to answer. */
  offers: number
  answers: number
  attempts: number
  established: number
  failed: number
  /** Connections closed idle; swarms opened on a connection made for another. */
  closedIdle: number
  swarmsOnExistingConnections: number
  uploadedBytes: number
}

export interface Prefetch {
  track: number
  keyReadyAt: number
  head: number[]
  bytes: number
  /** Head chunks asked of a peer: chunk -> peer. */
  asked: Map<number, number>
  fromEdge: Set<number>
  holders: Map<number, Set<number>>
  hooks: SwarmHooks | undefined
  entry: SwarmEntry | undefined
  cancelled: boolean
  /** Keeps a head chunk that arrived (from a peer or the edge). */
  store(index: number, bytes: number): void
  /** Head chunks not in the cache yet. */
  missing(): number[]
}

/** One client, from createClient to close: one listening session. */
export interface ClientState {
  closed: boolean
  /** When the session token is (or will be) at the client; undefined: not asked yet. */
  tokenAt: number | undefined
  /** When the tracker socket is open (it opens at the first join). */
  trackerOpenAt: number
  /** Keys this client holds in memory or has asked for: when each is (or will be) at the client. */
  keys: Map<number, number>
  /** When the session was asked for: a key asked at that same moment rides in its request. */
  sessionAskedAt?: number
  swarms: Map<number, SwarmEntry>
  /** Open connections, by the remote listener's index (one per remote). */
  links: Map<number, SimLink>
  connecting: number
  /** The SDK's offer budget (core/peer-connections.ts), one for the client. */
  budget: ReturnType<typeof createOfferBudget>
  /** The tracker said peer_limit: no offers until then. */
  offersPausedUntil: number
  /** An idle sweep is scheduled. */
  sweeping: boolean
  /** The SDK's upload cores: which requests are served (links keyed `${track} ${remote}`, as the SDK keys them by swarm and peer), within the ratio budget. */
  uploads: UploadAdmission
  uploadBudget: UploadBudget
  /** Links choked for the ratio rule, by link key, and whether a look for unchoking them is set. */
  ratioChoked: Map<string, { remote: number; track: number; at: number }>
  unchokeCheck: boolean
  /** The SDK's offer admission core: which relayed offers are answered; its attempts being set up, by id; whether a look at its queue is set. */
  answers: OfferAdmission<AnswerJob>
  answerAttempts: Map<number, AnswerAttempt>
  answersRetry: boolean
  emergencies: number
  seeding: number[]
  /** null: loading (the SDK's placeholder). */
  prefetched: Map<number, Prefetch | null>
  upcoming: number[]
  current: PlayState | undefined
  lastTrack: number | undefined
  stats: ClientStats
  plays: PlannedPlay[]
  next: number
}

/** A relayed offer kept by the offer admission core until it is answered. */
export interface AnswerJob {
  track: number
  remote: number
  offerId: string
}

/** An answered connection being set up; `settled` once it came up, failed, or was given up. */
export interface AnswerAttempt {
  id: number
  settled: boolean
}

interface PlayState {
  track: number
  planned: PlannedPlay
  t0: number
  started: boolean
  positionMs(): number
  stop(outcome: 'skipped' | 'cut'): void
}
