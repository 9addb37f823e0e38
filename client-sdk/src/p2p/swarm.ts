import { chunkMatches, fromBitfield, toBitfield } from '../../../protocol/index.js'
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

export function createSwarm(quality: SwarmQuality, infoHash: string, options: { source: UploadSource; serve: (peer: string, link: PeerLink, index: number) => void; ban: (peer: string) => void }) {
  const remotes = new Map<string, Remote>()
  const listeners = new Set<SwarmListener>()
  const emit = <K extends keyof SwarmListener>(k: K, ...args: Parameters<NonNullable<SwarmListener[K]>>) => {
    for (const l of listeners) (l[k] as ((...a: unknown[]) => void) | undefined)?.(...args)
  }
  let bytesFromPeers = 0

  return {
    infoHash,
    quality,
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
      emit('onChunk', index, bytes, peer)
    },
    request(peer: string, index: number): boolean {
      const r = remotes.get(peer)
      if (!r || r.link.closed) return false
      void r.link.send({ type: 'request', index })
      return true
    },
    cancel(peer: string, index: number): void {
      const r = remotes.get(peer)
      if (!r) return
      r.link.dropPartial(index)
      void r.link.send({ type: 'cancel', index })
    },
    /** Tells every peer of the swarm that we now hold `index`. */
    announceHave(index: number): void {
      for (const r of remotes.values()) void r.link.send({ type: 'have', index })
    },
    broadcast(m: { type: 'choke' } | { type: 'unchoke' }): void {
      for (const r of remotes.values()) void r.link.send(m)
    },
    drop(peer: string): void {
      const r = remotes.get(peer)
      if (!r) return
      remotes.delete(peer)
      r.link.close()
      emit('onPeerGone', peer)
    },
    peers: () => [...remotes.keys()],
    close(): void {
      for (const id of [...remotes.keys()]) this.drop(id)
      listeners.clear()
    },
  }
}

export type Swarm = ReturnType<typeof createSwarm>
