import { toHex } from '../../../protocol/index.js'
import { swarmInfoHash } from '../../../protocol/src/tracker.js'
import type { TrackerReply } from '../../../protocol/src/tracker.js'
import { type TrackerClient, type WebSocketConstructor, createTrackerClient } from '../../../tracker/src/client.js'
import { createTokenBucket } from '../core/token-bucket.js'
import { BYE_GRACE_MS, type PeerLink, type SimplePeerLike, createPeerLink, refusePeer } from './peer-link.js'
import { type Swarm, type SwarmQuality, type UploadSource, createSwarm } from './swarm.js'

/**
 * This listener's place in the peer network: its tracker connections, its swarms, its WebRTC
 * connections (at most `maxConnections`, `hardMaxConnections` counting those being set up) and
 * its uploads (at most `uploadSlots` peers served at once, under `uploadRate` bytes/s).
 * Offers and answers travel through the tracker (WebTorrent protocol); chunks travel over
 * simple-peer data channels.
 */
export interface NetworkOptions {
  /** ws://host:port/announce, or a template with {info_hash} for a tracker sharded per swarm. */
  tracker: string
  WebSocket: WebSocketConstructor
  SimplePeer: new (opts: Record<string, unknown>) => SimplePeerLike
  wrtc?: unknown
  iceServers?: RTCIceServer[]
  token?: () => Promise<string | undefined>
  network?: string
  maxConnections?: number
  hardMaxConnections?: number
  uploadSlots?: number
  /** Bytes per second; Infinity for no cap. */
  uploadRate?: number
  downloadOnly?: boolean
  /** Added latency on every incoming peer message (benchmarks' network emulation). */
  peerDelayMs?: number
  /** Offers sent with each announce. */
  offersPerAnnounce?: number
  random?: () => number
}

interface SwarmEntry {
  swarm: Swarm
  tracker: TrackerClient
  pending: Map<string, { peer: SimplePeerLike; at: number }>
  timer: ReturnType<typeof setTimeout> | undefined
  left: () => number
  closed: boolean
  /** Others the tracker says are in the swarm (from its last reply); undefined before one. */
  others: number | undefined
  /** Announces in a row that found too few peers: the wait before the next one grows with it. */
  lonely: number
  /** Joins not yet matched by a leave (a playback, a prefetch, the seeding list): the swarm is left at 0. */
  users: number
}

export interface NetworkStats {
  /** Swarms joined: playing, prefetching and seeding. */
  swarms: number
  connections: number
  /** RTCPeerConnections made to offer (each one costs a peer connection's setup). */
  offers: number
  attempts: number
  established: number
  failed: number
  uploadedBytes: number
  banned: number
}

function randomId(random: () => number): string {
  const bytes = new Uint8Array(20)
  for (let i = 0; i < 20; i++) bytes[i] = Math.floor(random() * 256)
  return toHex(bytes)
}

export function createNetwork(options: NetworkOptions) {
  const random = options.random ?? Math.random
  const peerId = randomId(random)
  const maxConnections = options.maxConnections ?? 50
  const hardMax = options.hardMaxConnections ?? 60
  const uploadSlots = options.uploadSlots ?? 4
  const bucket = createTokenBucket(options.uploadRate ?? Number.POSITIVE_INFINITY)
  const offersPerAnnounce = options.offersPerAnnounce ?? 5
  const swarms = new Map<string, SwarmEntry>()
  const joining = new Map<string, Promise<SwarmEntry>>()
  const trackers = new Map<string, { client: TrackerClient; users: number }>()
  const banned = new Set<string>()
  const uploading = new Map<string, number>()
  let connecting = 0
  let emergencies = 0
  let closed = false
  const stats = { offers: 0, attempts: 0, established: 0, failed: 0, uploadedBytes: 0 }

  const connections = () => {
    let n = 0
    for (const e of swarms.values()) n += e.swarm.size
    return n
  }

  // Every RTCPeerConnection this client made, so close() can end them all (a live one keeps a
  // Node process running, and one mid-setup is in no swarm yet).
  const live = new Set<SimplePeerLike>()

  function newPeer(initiator: boolean): SimplePeerLike {
    const peer = new options.SimplePeer({
      initiator,
      trickle: false,
      ...(options.wrtc !== undefined && { wrtc: options.wrtc }),
      config: { iceServers: options.iceServers ?? [] },
    })
    live.add(peer)
    peer.on('close', () => live.delete(peer))
    if (closed) peer.destroy()
    return peer
  }

  async function makeOffer(): Promise<{ peer: SimplePeerLike; sdp: string } | undefined> {
    stats.offers++
    const peer = newPeer(true)
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        peer.destroy()
        resolve(undefined)
      }, 5000)
      peer.on('error', () => {})
      peer.on('signal', (data) => {
        if (data.type !== 'offer' || !data.sdp) return
        clearTimeout(timer)
        resolve({ peer, sdp: data.sdp })
      })
    })
  }

  /** Wires a connected data channel into the swarm. */
  function connected(entry: SwarmEntry, remote: string, peer: SimplePeerLike): void {
    if (entry.closed || entry.swarm.has(remote) || banned.has(remote) || connections() >= hardMax) {
      // Through a link, so the remote hears bye and ends the channel itself (it may be sending).
      refusePeer(peer)
      return
    }
    stats.established++
    let link: PeerLink | undefined = undefined
    link = createPeerLink(
      peer,
      {
        onMessage: (m) => entry.swarm.message(remote, m),
        onChunk: (index, bytes) => void entry.swarm.chunk(remote, index, bytes),
        onProtocolError: () => {
          banned.add(remote)
          entry.swarm.drop(remote)
        },
        onClose: () => entry.swarm.drop(remote),
      },
      { delayMs: options.peerDelayMs ?? 0 },
    )
    entry.swarm.attach(remote, link)
    if (emergencies > 0) void link.send({ type: 'choke' })
  }

  function track(peer: SimplePeerLike, onConnect: () => void): void {
    connecting++
    stats.attempts++
    let settled = false
    const settle = (ok: boolean) => {
      if (settled) return
      settled = true
      connecting--
      if (!ok) stats.failed++
    }
    peer.on('connect', () => {
      settle(true)
      onConnect()
    })
    peer.on('error', () => settle(false))
    peer.on('close', () => settle(false))
    // A connection that never comes up must not hold a slot forever.
    setTimeout(() => {
      if (!settled) {
        settle(false)
        peer.destroy()
      }
    }, 15_000).unref?.()
  }

  async function announce(entry: SwarmEntry, event?: 'started' | 'stopped' | 'completed'): Promise<void> {
    if (entry.closed && event !== 'stopped') return
    const room = Math.max(0, Math.min(maxConnections - connections(), hardMax - connections() - connecting))
    // A holder (nothing left to fetch) sends no offers: those who still fetch offer to it, and
    // the tracker hands their offers to holders first. Each offer is a whole RTCPeerConnection.
    const want = event === 'stopped' || entry.left() === 0 ? 0 : Math.min(offersPerAnnounce, room)
    // Drop offers nobody answered: their slots go to fresh ones.
    for (const [id, p] of entry.pending) {
      if (Date.now() - p.at > 20_000) {
        p.peer.destroy()
        entry.pending.delete(id)
      }
    }
    const offers: Array<{ offer: { type: 'offer'; sdp: string }; offer_id: string }> = []
    // Each offer is a whole RTCPeerConnection. With nobody else in the swarm nobody can answer:
    // announce without offers, and those who join later send theirs to us.
    const someone = entry.others !== undefined && entry.others > 0
    if (want > 0 && someone && entry.pending.size < offersPerAnnounce) {
      const made = await Promise.all(Array.from({ length: want }, () => makeOffer()))
      for (const m of made) {
        if (!m) continue
        const offerId = randomId(random)
        entry.pending.set(offerId, { peer: m.peer, at: Date.now() })
        offers.push({ offer: { type: 'offer', sdp: m.sdp }, offer_id: offerId })
      }
    }
    entry.tracker.send({
      action: 'announce',
      info_hash: entry.swarm.infoHash,
      peer_id: peerId,
      numwant: offers.length,
      uploaded: stats.uploadedBytes,
      downloaded: entry.swarm.bytesFromPeers,
      left: entry.left(),
      ...(event && { event }),
      ...(offers.length && { offers }),
      ...(options.network && { network: options.network }),
    })
  }

  function scheduleAnnounce(entry: SwarmEntry, seconds: number): void {
    if (entry.timer) clearTimeout(entry.timer)
    // Fewer peers than we would like: ask again soon, then less and less often while the swarm
    // stays small (5, 10, 20, 40 s...); otherwise at the tracker's interval.
    // A holder waits for offers and announces at the tracker's interval.
    const small = entry.left() > 0 && entry.swarm.size < 3 && (entry.others ?? 1) > entry.swarm.size
    entry.lonely = small ? entry.lonely + 1 : 0
    const wait = small ? Math.min(seconds, 5 * 2 ** Math.min(entry.lonely - 1, 4) * (0.8 + random() * 0.4)) : seconds
    entry.timer = setTimeout(() => void announce(entry).catch(() => {}), wait * 1000)
    entry.timer.unref?.()
  }

  function onTrackerMessage(reply: TrackerReply): void {
    if (!('info_hash' in reply) || typeof reply.info_hash !== 'string') return
    const entry = swarms.get(reply.info_hash)
    if (!entry || entry.closed) return
    if ('interval' in reply) {
      const first = entry.others === undefined
      if (typeof reply.complete === 'number' && typeof reply.incomplete === 'number') entry.others = Math.max(0, reply.complete + reply.incomplete - 1)
      // The first announce only asks who is there; with someone there, offers go out at once.
      if (first && (entry.others ?? 0) > 0 && entry.left() > 0) void announce(entry).catch(() => {})
      scheduleAnnounce(entry, Math.max(5, Math.min(120, reply.interval)))
      return
    }
    if ('offer' in reply && reply.offer && 'offer_id' in reply) {
      const remote = reply.peer_id
      if (remote === peerId || banned.has(remote) || entry.swarm.has(remote) || connections() + connecting >= hardMax) return
      const peer = newPeer(false)
      track(peer, () => connected(entry, remote, peer))
      peer.on('signal', (data) => {
        if (data.type !== 'answer') return
        entry.tracker.send({ action: 'announce', info_hash: entry.swarm.infoHash, peer_id: peerId, to_peer_id: remote, answer: { type: 'answer', sdp: data.sdp! }, offer_id: reply.offer_id })
      })
      peer.signal(reply.offer)
      return
    }
    if ('answer' in reply && reply.answer && 'offer_id' in reply) {
      const pending = entry.pending.get(reply.offer_id)
      if (!pending) return
      entry.pending.delete(reply.offer_id)
      const remote = reply.peer_id
      if (banned.has(remote) || entry.swarm.has(remote)) {
        pending.peer.destroy()
        return
      }
      track(pending.peer, () => connected(entry, remote, pending.peer))
      pending.peer.signal(reply.answer)
    }
  }

  async function trackerFor(infoHash: string): Promise<{ client: TrackerClient; url: string }> {
    let url = options.tracker.replace('{info_hash}', infoHash)
    const token = await options.token?.()
    if (token) url += `${url.includes('?') ? '&' : '?'}token=${encodeURIComponent(token)}`
    const existing = trackers.get(url)
    if (existing) {
      existing.users++
      return { client: existing.client, url }
    }
    const client = createTrackerClient({
      url,
      WebSocket: options.WebSocket,
      minDelayMs: 500,
      maxDelayMs: 15_000,
      random,
      onMessage: onTrackerMessage,
      // The tracker forgets a socket's swarms when it drops: announce again on every reconnect.
      onOpen: () => {
        for (const e of swarms.values()) if (e.tracker === client) void announce(e, 'started').catch(() => {})
      },
    })
    trackers.set(url, { client, users: 1 })
    return { client, url }
  }

  function closeSwarm(infoHash: string): void {
    const entry = swarms.get(infoHash)
    if (!entry) return
    entry.closed = true
    if (entry.timer) clearTimeout(entry.timer)
    void announce(entry, 'stopped').catch(() => {})
    for (const p of entry.pending.values()) p.peer.destroy()
    entry.swarm.close()
    swarms.delete(infoHash)
  }

  function serve(peer: string, link: PeerLink, index: number, source: UploadSource): void {
    const busy = uploading.size >= uploadSlots && !uploading.has(peer)
    if (options.downloadOnly || emergencies > 0 || busy) {
      void link.send({ type: 'reject', index })
      return
    }
    uploading.set(peer, (uploading.get(peer) ?? 0) + 1)
    const done = () => {
      const n = (uploading.get(peer) ?? 1) - 1
      if (n <= 0) uploading.delete(peer)
      else uploading.set(peer, n)
    }
    void (async () => {
      const bytes = await source.get(index)
      if (!bytes) return void link.send({ type: 'reject', index })
      await link.sendChunk(index, bytes, async (n) => {
        const wait = bucket.take(n, performance.now())
        if (wait > 0) await new Promise((r) => setTimeout(r, wait))
      })
      stats.uploadedBytes += bytes.byteLength
    })()
      .catch(() => {})
      .finally(done)
  }

  return {
    peerId,
    /** Joins (or returns) the swarm of one track version and quality, serving `source` to its peers. */
    async join(quality: SwarmQuality, source: UploadSource, left: () => number): Promise<Swarm> {
      const infoHash = await swarmInfoHash(quality.trackId, quality.version, quality.bitrate)
      const existing = swarms.get(infoHash)
      if (existing && !existing.closed) {
        existing.users++
        return existing.swarm
      }
      // A playback and a prefetch may join one swarm at the same moment: one entry for both.
      const underway = joining.get(infoHash)
      if (underway) {
        const entry = await underway
        entry.users++
        return entry.swarm
      }
      const made = (async () => {
        const swarm = createSwarm(quality, infoHash, {
          source,
          serve: (peer, link, index) => serve(peer, link, index, source),
          ban: (peer) => banned.add(peer),
        })
        const { client } = await trackerFor(infoHash)
        const entry: SwarmEntry = { swarm, tracker: client, pending: new Map(), timer: undefined, left, closed: false, others: undefined, lonely: 0, users: 1 }
        swarms.set(infoHash, entry)
        if (client.connected) await announce(entry, 'started').catch(() => {})
        scheduleAnnounce(entry, 10)
        return entry
      })()
      joining.set(infoHash, made)
      try {
        return (await made).swarm
      } finally {
        joining.delete(infoHash)
      }
    },
    /** Drops one join of the swarm; the last one leaves it (announced as stopped). */
    leave(infoHash: string): void {
      const entry = swarms.get(infoHash)
      if (!entry) return
      if (--entry.users > 0) return
      closeSwarm(infoHash)
    },
    /** Emergency in any playback: choke every peer and refuse requests until it ends. */
    setUploading(allowed: boolean): void {
      const before = emergencies
      emergencies = Math.max(0, emergencies + (allowed ? -1 : 1))
      if ((before === 0) !== (emergencies === 0)) {
        for (const e of swarms.values()) e.swarm.broadcast({ type: emergencies > 0 ? 'choke' : 'unchoke' })
      }
    },
    stats(): NetworkStats {
      return { swarms: swarms.size, connections: connections(), ...stats, banned: banned.size }
    },
    /** Leaves every swarm: links say bye, and this resolves when every channel has ended. */
    async close(): Promise<void> {
      closed = true
      for (const id of [...swarms.keys()]) closeSwarm(id)
      for (const t of trackers.values()) t.client.close()
      trackers.clear()
      // A peer still being set up has no channel to say bye on; the rest end within the grace.
      for (const peer of live) if (!peer.connected) peer.destroy()
      const ends = [...live].map((peer) => new Promise<void>((resolve) => (peer.destroyed ? resolve() : peer.on('close', resolve))))
      let timer: ReturnType<typeof setTimeout> | undefined
      await Promise.race([Promise.all(ends), new Promise((resolve) => (timer = setTimeout(resolve, BYE_GRACE_MS + 500)))])
      clearTimeout(timer)
      for (const peer of live) peer.destroy()
      live.clear()
    },
  }
}

export type Network = ReturnType<typeof createNetwork>
