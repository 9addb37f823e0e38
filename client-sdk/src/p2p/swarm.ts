import { type Manifest, type QualityManifest, chunkLength, chunkMatches, fromBitfield, toBitfield } from '../../../protocol/index.js'
import type { ControlMessage, PeerLink } from './peer-link.js'

/**
 * One swarm as this listener sees it: the peers connected for one (track version, quality),
 * what each holds, and the requests in flight to each. It decides nothing about timing (the
 * scheduler does); it verifies every chunk a peer sends before anyone sees it, and drops a peer
 * that sends a bad one.
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

export interface SwarmListener {
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

export interface SwarmHooks {
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
  ban(peer: string): void
}

export function createSwarm(quality: SwarmQuality, infoHash: string, options: SwarmHooks) {
  const remotes = new Map<string, Remote>()
  const listeners = new Set<SwarmListener>()
  const emit = <K extends keyof SwarmListener>(k: K, ...args: Parameters<NonNullable<SwarmListener[K]>>) => {
    for (const l of listeners) (l[k] as ((...a: unknown[]) => void) | undefined)?.(...args)
  }
  let bytesFromPeers = 0

  return {
    infoHash,
    quality,
    /** What this listener serves in the swarm. */
    source: options.source,
    listen(l: SwarmListener): () => void {
      listeners.add(l)
      for (const [id, r] of remotes) l.onPeer?.(id, r.holds)
      return () => listeners.delete(l)
    },
    has: (peer: string) => remotes.has(peer),
    get size() {
      return remotes.size
    },
    get bytesFromPeers() {
      return bytesFromPeers
    },
    /** A data channel for this swarm is open: greet with what we hold. */
    attach(peer: string, link: PeerLink): Remote {
      const remote: Remote = { link, holds: new Set(), choking: false }
      remotes.set(peer, remote)
      void link.send({ type: 'bitfield', have: toBitfield(options.source.held(), quality.chunkCount) })
      emit('onPeer', peer, remote.holds)
      return remote
    },
    /** Routes one message from a peer of this swarm. */
    message(peer: string, m: ControlMessage): void {
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
    async chunk(peer: string, index: number, bytes: Uint8Array): Promise<void> {
      if (!remotes.has(peer)) return
      const hash = quality.hashes[index]
      if (hash === undefined || !(await chunkMatches(bytes, hash))) {
        // A peer that sends one bad chunk is not trusted with another for this session.
        options.ban(peer)
        this.drop(peer)
        emit('onBadChunk', index, peer)
        return
      }
      bytesFromPeers += bytes.byteLength
      options.received(bytes.byteLength)
      emit('onChunk', index, bytes, peer)
    },
    request(peer: string, index: number): boolean {
      const r = remotes.get(peer)
      if (!r || r.link.closed || qualityChunkLength(quality, index) === undefined) return false
      void r.link.send({ type: 'request', index })
      return true
    },
    cancel(peer: string, index: number): void {
      const r = remotes.get(peer)
      if (!r) return
      void r.link.send({ type: 'cancel', index })
    },
    /** Tells every peer of the swarm that we now hold `index`. */
    announceHave(index: number): void {
      for (const r of remotes.values()) void r.link.send({ type: 'have', index })
      options.holds(index)
    },
    broadcast(m: { type: 'choke' } | { type: 'unchoke' }): void {
      for (const r of remotes.values()) void r.link.send(m)
    },
    drop(peer: string): void {
      const r = remotes.get(peer)
      if (!r) return
      remotes.delete(peer)
      r.link.close()
      options.gone(peer)
      emit('onPeerGone', peer)
    },
    peers: () => [...remotes.keys()],
    /** Bytes held for chunks being reassembled from this swarm's peers. */
    assemblingBytes(): number {
      let n = 0
      for (const r of remotes.values()) n += r.link.expecting.bytes
      return n
    },
    close(): void {
      for (const id of [...remotes.keys()]) this.drop(id)
      listeners.clear()
    },
  }
}

export type Swarm = ReturnType<typeof createSwarm>
