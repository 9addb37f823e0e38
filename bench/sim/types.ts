import type { Habits } from '../../client-sdk/core.js'
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
}

/** Chunks held per track, least recently used first (a Map keeps insertion order). */
export interface ListenerCache {
  tracks: Map<number, Uint8Array>
  bytes: number
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
  /** Connected peers (listener indices). */
  peers: Set<number>
  hooks: Set<SwarmHooks>
  /** Bumped to cancel the scheduled announce. */
  timer: number
  left: () => number
}

interface ClientStats {
  plays: number
  prefetchedPlays: number
  prefetchedBytes: number
  prefetchedBytesUnused: number
  attempts: number
  established: number
  failed: number
  uploadedBytes: number
}

export interface Prefetch {
  track: number
  keyReadyAt: number
  head: number[]
  bytes: number
  asked: Set<number>
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
  /** Tracks whose key this client holds or has asked for (keys live for the session). */
  keys: Map<number, number>
  swarms: Map<number, SwarmEntry>
  connections: number
  connecting: number
  uploading: Map<number, number>
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

interface PlayState {
  track: number
  planned: PlannedPlay
  t0: number
  started: boolean
  positionMs(): number
  stop(outcome: 'skipped' | 'cut'): void
}
