import { type Manifest, type QualityManifest, chunkLength, chunkMatches, fromBitfield, toBitfield } from '../../../protocol/index.js'
import type { ControlMessage, PeerLink } from './peer-link.js'
import { coversSwarm } from '../core/peer-connections.js'

/**
 * What one swarm is for: a track version at one quality, with what checks its chunks. A swarm
 * (the protocol's word) is everyone announcing its info_hash; see the glossary in README.md.
 */
export interface SwarmQuality {
  trackId: string
  version: string
  bitrate: number
  chunkCount: number
  hashes: string[]
  /** With byteLength, each chunk's real length: a peer's piece must claim exactly that. */
  chunkSize: number
  byteLength: number
}

export function swarmQuality(manifest: Pick<Manifest, 'trackId' | 'version'>, q: QualityManifest): SwarmQuality {
  return { trackId: manifest.trackId, version: manifest.version, bitrate: q.bitrate, chunkCount: q.chunkCount, hashes: q.hashes, chunkSize: q.chunkSize, byteLength: q.byteLength }
}

/** The real length of chunk `index`, or undefined when the quality has no such chunk. */
export function qualityChunkLength(q: SwarmQuality, index: number): number | undefined {
  return Number.isInteger(index) && index >= 0 && index < q.chunkCount ? chunkLength(q.byteLength, q.chunkSize, index) : undefined
}

/** What a peer set tells a playback or a prefetch that listens to it. */
interface PeerSetListener {
  onPeer?(peer: string, holds: ReadonlySet<number>): void
  onHave?(peer: string, index: number): void
  onChoke?(peer: string, choked: boolean): void
  onPeerGone?(peer: string): void
  /** A verified chunk from a peer. */
  onChunk?(index: number, bytes: Uint8Array, peer: string): void
  /** A peer refused a request (does not hold it, or is choking us). */
  onReject?(index: number, peer: string): void
  /** A peer sent a chunk that failed its hash check; it has been dropped. */
  onBadChunk?(index: number, peer: string): void
}

/** What this listener serves in a swarm: its verified chunks of that quality. */
export interface UploadSource {
  /** Our verified copy of a chunk, if we hold it. */
  get(index: number): Promise<Uint8Array | undefined>
  held(): ReadonlySet<number>
}

interface Remote {
  link: PeerLink
  holds: Set<number>
  choking: boolean
}

/** What a peer set asks of the network that owns it: uploads, bans, tracker announces. */
export interface PeerSetHooks {
  source: UploadSource
  /** A peer asked for a chunk: the network's uploads decide (refuse, queue, serve). */
  serve(peer: string, link: PeerLink, index: number): void
  /** A peer cancelled its request for a chunk. */
  cancelServe(peer: string, index: number): void
  /** A peer is gone from the swarm (its uploads stop). */
  gone(peer: string): void
  /** Verified bytes from a peer (the upload budget counts them as downloaded). */
  received(bytes: number): void
  /** This listener holds one more chunk (it may now hold the whole track). */
  holds(index: number): void
  /** The peer sent a bad chunk: it is banned and its connection closed (it has left the set). */
  ban(peer: string): void
  now?: () => number
}

/**
 * One listener's peer set in one swarm: the peers it is connected to for one (track version,
 * quality), what each holds, and the requests in flight to each. It decides nothing about timing
 * (the scheduler does); it verifies every chunk a peer sends before anyone sees it, and drops a
 * peer that sends a bad one. (The tracker's record of a whole swarm is its roster, elsewhere.)
 */
export interface PeerSet {
  /** The swarm's info_hash (hex). */
  readonly infoHash: string
  readonly quality: SwarmQuality
  /** What this listener serves in the swarm. */
  readonly source: UploadSource
  /** Adds a listener, told at once of every peer connected now; returns its removal. */
  listen(listener: PeerSetListener): () => void
  has(peer: string): boolean
  /** Peers connected now. */
  readonly size: number
  /** Verified bytes received from this set's peers. */
  readonly bytesFromPeers: number
  /** A data channel for this swarm is open: the peer joins the set and is greeted with what we hold. */
  attach(peer: string, link: PeerLink): void
  /** Routes one control message from a peer of the set (unknown peers are ignored). */
  message(peer: string, m: ControlMessage): void
  /** A piece from a peer: verified against the manifest's hash, passed on, or the peer is banned and dropped. */
  chunk(peer: string, index: number, bytes: Uint8Array): Promise<void>
  /** Asks `peer` for chunk `index`; false when the peer is not connected or the chunk does not exist. */
  request(peer: string, index: number): boolean
  /** Withdraws a request to `peer`. */
  cancel(peer: string, index: number): void
  /** Tells every peer of the set that we now hold `index`. */
  announceHave(index: number): void
  /** Sends choke or unchoke to every peer of the set. */
  broadcast(m: { type: 'choke' } | { type: 'unchoke' }): void
  /** Closes the link to `peer` and forgets it (its uploads stop, listeners hear onPeerGone). */
  drop(peer: string): void
  /** The ids of the peers connected now. */
  peers(): string[]
  /** Bytes held for chunks being reassembled from this set's peers. */
  assemblingBytes(): number
  /** Peers not choking this listener that hold at least half of the chunks it lacks: those it needs no new connection for. */
  usefulPeers(): number
  /** Ms from the peer set's making to the first verified byte from a peer; undefined before one. */
  readonly firstPeerByteMs: number | undefined
  /** Drops every peer and every listener. */
  close(): void
}

export function createPeerSet(quality: SwarmQuality, infoHash: string, options: PeerSetHooks): PeerSet {
  const remotes = new Map<string, Remote>()
  const listeners = new Set<PeerSetListener>()
  const emit = <K extends keyof PeerSetListener>(k: K, ...args: Parameters<NonNullable<PeerSetListener[K]>>) => {
    for (const l of listeners) (l[k] as ((...a: unknown[]) => void) | undefined)?.(...args)
  }
  let bytesFromPeers = 0
  const now = options.now ?? (() => performance.now())
  const madeAt = now()
  let firstPeerByteMs: number | undefined

  const set: PeerSet = {
    infoHash,
    quality,
    source: options.source,
    listen(l) {
      listeners.add(l)
      for (const [id, r] of remotes) l.onPeer?.(id, r.holds)
      return () => listeners.delete(l)
    },
    has: (peer) => remotes.has(peer),
    get size() {
      return remotes.size
    },
    get bytesFromPeers() {
      return bytesFromPeers
    },
    attach(peer, link) {
      const remote: Remote = { link, holds: new Set(), choking: false }
      remotes.set(peer, remote)
      void link.send({ type: 'bitfield', have: toBitfield(options.source.held(), quality.chunkCount) })
      emit('onPeer', peer, remote.holds)
    },
    message(peer, m) {
      const r = remotes.get(peer)
      if (!r) return
      switch (m.type) {
        case 'bitfield':
          for (const i of fromBitfield(m.have, quality.chunkCount)) {
            r.holds.add(i)
            emit('onHave', peer, i)
          }
          break
        case 'have':
          if (m.index < quality.chunkCount) {
            r.holds.add(m.index)
            emit('onHave', peer, m.index)
          }
          break
        case 'request':
          if (m.index < quality.chunkCount) options.serve(peer, r.link, m.index)
          else void r.link.send({ type: 'reject', index: m.index })
          break
        case 'reject':
          r.holds.delete(m.index)
          emit('onReject', m.index, peer)
          break
        case 'choke':
        case 'unchoke':
          r.choking = m.type === 'choke'
          emit('onChoke', peer, r.choking)
          break
        case 'cancel':
          options.cancelServe(peer, m.index)
          break
      }
    },
    async chunk(peer, index, bytes) {
      if (!remotes.has(peer)) return
      const hash = quality.hashes[index]
      if (hash === undefined || !(await chunkMatches(bytes, hash))) {
        // A peer that sends one bad chunk is not trusted with another for this session.
        options.ban(peer)
        set.drop(peer)
        emit('onBadChunk', index, peer)
        return
      }
      bytesFromPeers += bytes.byteLength
      firstPeerByteMs ??= now() - madeAt
      options.received(bytes.byteLength)
      emit('onChunk', index, bytes, peer)
    },
    request(peer, index) {
      const r = remotes.get(peer)
      if (!r || r.link.closed || qualityChunkLength(quality, index) === undefined) return false
      void r.link.send({ type: 'request', index })
      return true
    },
    cancel(peer, index) {
      const r = remotes.get(peer)
      if (!r) return
      void r.link.send({ type: 'cancel', index })
    },
    announceHave(index) {
      for (const r of remotes.values()) void r.link.send({ type: 'have', index })
      options.holds(index)
    },
    broadcast(m) {
      for (const r of remotes.values()) void r.link.send(m)
    },
    drop(peer) {
      const r = remotes.get(peer)
      if (!r) return
      remotes.delete(peer)
      r.link.close()
      options.gone(peer)
      emit('onPeerGone', peer)
    },
    peers: () => [...remotes.keys()],
    usefulPeers() {
      const held = options.source.held()
      const lacking = quality.chunkCount - held.size
      let n = 0
      for (const r of remotes.values()) {
        if (r.choking) continue
        let has = 0
        for (const i of r.holds) if (!held.has(i)) has++
        if (coversSwarm({ has, lacking })) n++
      }
      return n
    },
    get firstPeerByteMs() {
      return firstPeerByteMs
    },
    assemblingBytes() {
      let n = 0
      for (const r of remotes.values()) n += r.link.expecting.bytes
      return n
    },
    close() {
      for (const id of [...remotes.keys()]) set.drop(id)
      listeners.clear()
    },
  }
  return set
}
