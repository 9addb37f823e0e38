import type { SessionDescription, TrackerReply, TrackerRequest } from '../../../protocol/index.js'
import { swarmInfoHash } from '../../../protocol/index.js'
import { type TrackerClient, type WebSocketConstructor, chorusTrack, createTrackerClient } from './tracker-client.js'
import type { OfferAdmissionOptions } from '../core/offer-admission.js'
import { type ConnectionRules, DEFAULT_CONNECTION_RULES, announceOnLinks, createOfferBudget, idleConnection, idleSweepMs, offersToMake } from '../core/peer-connections.js'
import { DEFAULT_SWARM_RULES, type SwarmRules, announceInterval, answerUseful, nextAnnounce, offerExpired, offerOnReply, offerRoom, peerLimitPausedUntil, underHardCap } from '../core/swarm-rules.js'
import { randomId } from '../core/random-id.js'
import { fingerprint, outgoingDescription, saneOffer, candidates as sdpCandidates } from '../core/sdp.js'
import { createAnswers } from './answers.js'
import { BYE_GRACE_MS, type SimplePeerLike } from './peer-link.js'
import { type PeerWire, createPeerWire, refusePeer } from './peer-wire.js'
import { type PeerSet, type SwarmQuality, type UploadSource, createPeerSet, qualityChunkLength } from './peer-set.js'
import { DEFAULT_UPLOAD_LIMITS, type UploadLimits, type UploadStats, createUploads } from './uploads.js'

/**
 * This listener's place in the peer network: its tracker connections, its swarms, its WebRTC
 * connections (at most `maxConnections`, `hardMaxConnections` counting those being set up), its
 * uploads (p2p/uploads.ts) and which relayed offers it answers (core/offer-admission.ts).
 * Offers and answers travel through the tracker (WebTorrent protocol); chunks travel over
 * simple-peer data channels, one per remote listener, each carrying every swarm both are in
 * (p2p/peer-wire.ts). When to offer and when to close a connection: core/peer-connections.ts;
 * the caps, when to announce again, offers given up, the pause after peer_limit and which offers
 * are worth answering: core/swarm-rules.ts (the simulation runs both).
 *
 * Each swarm has a peer id of its own (random, from the CSPRNG): peers of one track cannot
 * link it to the listener's other swarms, and a peer id the tracker says is taken (a reconnect
 * while the old socket is still half-open there) is replaced by a new one. The session token
 * rides in every tracker message (`token`, never the URL, which a reconnect would reuse after it
 * expired); when the tracker says `token_expired`, a fresh one is sent and the swarms are announced again.
 */
export interface NetworkOptions {
  /** ws://host:port/announce, or a template with {info_hash} for a tracker sharded per swarm. */
  tracker: string
  WebSocket: WebSocketConstructor
  SimplePeer: new (opts: Record<string, unknown>) => SimplePeerLike
  wrtc?: unknown
  iceServers?: RTCIceServer[]
  /** WebRTC through a TURN server only (iceTransportPolicy 'relay'); other candidates never leave. */
  relayOnly?: boolean
  /** The tracker's session token; `fresh`: the tracker refused the last one as expired. */
  token?: (fresh: boolean) => Promise<string | undefined>
  network?: string
  maxConnections?: number
  hardMaxConnections?: number
  /** Limits on serving peers; false: download-only. */
  uploads?: UploadLimits | false
  /** Added latency on every incoming peer message (benchmarks' network emulation). */
  peerDelayMs?: number
  /** When to offer, the offer budget, when a connection is idle (core/peer-connections.ts). */
  connections?: Partial<ConnectionRules>
  /** Which relayed offers are answered (core/offer-admission.ts). */
  offers?: Partial<OfferAdmissionOptions>
  /** How long an answered connection may take to come up. */
  answerTimeoutMs?: number
  /** For reconnection and announce jitter only: ids come from the CSPRNG. */
  random?: () => number
  onWarning?: (w: { code: string; message: string }) => void
}

interface TrackerEntry {
  url: string
  client: TrackerClient
  users: number
  /** When the tracker last said token_expired, and the refresh under way. */
  expiredAt: number | undefined
  refreshing: boolean
  lastRefreshAt: number
  lastToken: string | undefined
  /** Until when no offers go to this tracker: it said this listener met as many peers as it introduces in an hour. */
  offersPausedUntil: number
}

/** This listener's membership of one swarm: its peer set there, its peer id, its announces and offers. */
interface JoinedSwarm {
  peerSet: PeerSet
  tracker: TrackerEntry
  peerId: string
  /** The id before the last renewal, and when it was renewed. */
  formerId: string | undefined
  renewedAt: number
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
  /** Announced as a holder (left 0) since the last reconnection. */
  holder: boolean
  /** Until when connected peers asked about the swarm (over their links) may still say they are in it. */
  askedUntil: number
  /** A check for offers waiting for the asked peers' replies. */
  offerTimer: ReturnType<typeof setTimeout> | undefined
  /** The tracker refused this swarm for this session (its token does not cover the track): no more announces; the track plays from the servers. */
  refused: boolean
}

export interface NetworkStats {
  /** Swarms joined: playing, prefetching and seeding. */
  swarms: number
  /** Connections open now (one RTCPeerConnection each, one per remote, carrying every swarm both are in). */
  connections: number
  /** RTCPeerConnections made to offer (each one costs a peer connection's setup, answered or not). */
  offers: number
  /** Swarms opened on a connection made for another swarm: each one an RTCPeerConnection not made. */
  swarmsOnExistingConnections: number
  /** Connections closed for carrying nothing this listener fetches and moving no chunk for a while. */
  closedIdle: number
  /** Median ms from joining a swarm to the first verified byte from a peer there (swarms that had one); undefined before any. */
  firstPeerByteMs: number | undefined
  attempts: number
  established: number
  failed: number
  uploadedBytes: number
  banned: number
  /** Peers dropped for breaking the peer protocol (malformed messages, pieces not asked for, request floods). */
  protocolViolations: number
  /** Relayed offers: answered, kept waiting for room, not answered; answered connections being set up now. */
  offersAnswered: number
  offersQueued: number
  offersIgnored: number
  answering: number
  /** Bytes held for chunks being reassembled from peers (only chunks asked for, at their real length). */
  assemblingBytes: number
  /** Peer ids replaced after the tracker said peer_id_taken; tokens re-sent after token_expired. */
  peerIdRenewals: number
  tokenRefreshes: number
  uploads: UploadStats
}

/** This listener's peer network (see NetworkOptions): the swarms it is in, and its uploads. */
export interface Network {
  /**
   * Joins (or joins once more) the swarm of one track version and quality, serving `source` to
   * its peers; `left` says how many bytes this listener still lacks (0: a holder). Resolves with
   * this listener's peer set there. Each join is matched by one leave().
   */
  join(quality: SwarmQuality, source: UploadSource, left: () => number): Promise<PeerSet>
  /** Drops one join of the swarm; the last one leaves it (announced as stopped, its peers dropped). */
  leave(infoHash: string): void
  /** False while some playback is in an emergency: every peer is choked and requests refused until every emergency ends. */
  setUploading(allowed: boolean): void
  /** Bytes this listener downloaded from the edge: with those from peers, they set how much it may upload. */
  downloaded(bytes: number): void
  /** This swarm's peer id now (each swarm has its own), for tests and diagnostics. */
  peerIdOf(infoHash: string): string | undefined
  stats(): NetworkStats
  /** Leaves every swarm and closes the tracker sockets: links say bye, and this resolves when every channel has ended (or after a grace). */
  close(): Promise<void>
}

export function createNetwork(options: NetworkOptions): Network {
  const random = options.random ?? Math.random
  const swarmRules: SwarmRules = {
    ...DEFAULT_SWARM_RULES,
    ...(options.maxConnections !== undefined && { maxConnections: options.maxConnections }),
    ...(options.hardMaxConnections !== undefined && { hardMaxConnections: options.hardMaxConnections }),
    ...(options.answerTimeoutMs !== undefined && { answerTimeoutMs: options.answerTimeoutMs }),
  }
  const rules: ConnectionRules = { ...DEFAULT_CONNECTION_RULES, ...options.connections }
  const budget = createOfferBudget(rules)
  const now = () => performance.now()
  const uploads = createUploads({ limits: options.uploads === undefined ? DEFAULT_UPLOAD_LIMITS : options.uploads })
  const swarms = new Map<string, JoinedSwarm>()
  const joining = new Map<string, Promise<JoinedSwarm>>()
  const trackers = new Map<string, TrackerEntry>()
  const banned = new Set<string>()
  let connecting = 0
  let emergencies = 0
  let closed = false
  const stats = { offers: 0, attempts: 0, established: 0, failed: 0, protocolViolations: 0, peerIdRenewals: 0, tokenRefreshes: 0, swarmsOnExistingConnections: 0, closedIdle: 0 }
  /** Ms to the first peer byte of swarms left (the last 256), for the median in stats(). */
  const firstBytes: number[] = []
  const warned = new Set<string>()
  const warn = (code: string, message: string) => {
    if (warned.has(code)) return
    warned.add(code)
    options.onWarning?.({ code, message })
  }

  /** Open connections, one per remote: `key` names the remote in every peer set (its peer id in the swarm the connection was made for). */
  const wires = new Map<string, PeerWire>()
  const connections = () => wires.size

  // Every RTCPeerConnection this client made, so close() can end them all (a live one keeps a
  // Node process running, and one mid-setup is in no swarm yet).
  const live = new Set<SimplePeerLike>()

  function newPeer(initiator: boolean): SimplePeerLike {
    const peer = new options.SimplePeer({
      initiator,
      trickle: false,
      ...(options.wrtc !== undefined && { wrtc: options.wrtc }),
      config: { iceServers: options.iceServers ?? [], ...(options.relayOnly && { iceTransportPolicy: 'relay' }) },
    })
    live.add(peer)
    peer.on('close', () => live.delete(peer))
    if (closed) peer.destroy()
    return peer
  }

  /** What of a local description may leave: in relay-only mode, relay candidates only. */
  // What leaves for the tracker carries only what a data channel needs, of the kinds the mode allows (core/sdp.ts).
  const outgoing = (sdp: string) => outgoingDescription(sdp, options.relayOnly ? ['relay'] : ['host', 'srflx', 'relay'])

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
        const sdp = outgoing(data.sdp)
        // Without a candidate nobody can reach it (relay-only with an unreachable TURN server): an offer would only cost its receiver.
        if (sdpCandidates(sdp).length === 0) {
          peer.destroy()
          warn(
            'no_candidates',
            options.relayOnly ? 'relay-only: no relay candidate gathered (is the TURN server in iceServers reachable?); no offers go out' : 'no ICE candidate gathered; no offers go out',
          )
          return resolve(undefined)
        }
        resolve({ peer, sdp })
      })
    })
  }

  /** A data channel is up: one connection to this remote, for this swarm and every other both are in. */
  function connected(entry: JoinedSwarm, remote: string, peer: SimplePeerLike): void {
    if (entry.closed || entry.peerSet.has(remote) || wires.has(remote) || banned.has(remote) || !underHardCap({ open: connections(), connecting: 0 }, swarmRules)) {
      // Through a link, so the remote hears bye and ends the channel itself (it may be sending).
      refusePeer(peer)
      return
    }
    stats.established++
    const wire = createPeerWire(
      peer,
      entry.peerSet.infoHash,
      {
        // The remote is in a swarm this listener may share: take part there too if it is in it.
        onSwarm: (infoHash) => {
          const e = swarms.get(infoHash)
          // A download-only listener serves nobody: it shares a swarm only where it still fetches.
          if (e && !e.closed && !e.refused && (options.uploads !== false || e.left() > 0)) openLane(e, remote, wire)
        },
        onProtocolError: () => {
          stats.protocolViolations++
          banned.add(remote)
        },
        onClose: () => {
          if (wires.get(remote) === wire) wires.delete(remote)
        },
      },
      { delayMs: options.peerDelayMs ?? 0, now },
    )
    wires.set(remote, wire)
    openLane(entry, remote, wire)
    // Tell the new peer about the other swarms this listener fetches from: one connection serves them all.
    for (const e of swarms.values()) if (e !== entry && announceOnLinks({ left: e.left(), refused: e.refused, closed: e.closed })) openLane(e, remote, wire)
    idleSweep()
  }

  /** Takes part in a swarm on a connection; the peer joins the swarm's peer set once the remote takes part too. */
  function openLane(entry: JoinedSwarm, remote: string, wire: PeerWire): void {
    const infoHash = entry.peerSet.infoHash
    if (wire.closed || wire.lane(infoHash) || entry.peerSet.has(remote)) return
    const lane = wire.open(
      infoHash,
      {
        onOpen: () => {
          if (entry.closed || entry.peerSet.has(remote)) {
            lane.close()
            return
          }
          if (infoHash !== wire.home) stats.swarmsOnExistingConnections++
          entry.peerSet.attach(remote, lane)
          if (emergencies > 0) void lane.send({ type: 'choke' })
        },
        onMessage: (m) => entry.peerSet.message(remote, m),
        onChunk: (index, bytes) => void entry.peerSet.chunk(remote, index, bytes),
        onClose: () => entry.peerSet.drop(remote),
      },
      (i) => qualityChunkLength(entry.peerSet.quality, i),
    )
  }

  /** A peer broke the rules or sent a bad chunk: banned for the session, its connection closed (every swarm on it). */
  function ban(remote: string): void {
    banned.add(remote)
    wires.get(remote)?.close()
  }

  /** Closes the connections that carry nothing this listener fetches and have moved no chunk for a while. */
  let sweepTimer: ReturnType<typeof setInterval> | undefined
  function idleSweep(): void {
    const t = now()
    for (const wire of [...wires.values()]) {
      const fetching = wire.openSwarms.filter((h) => (swarms.get(h)?.left() ?? 0) > 0).length
      if (idleConnection({ fetching, lastActivity: wire.lastActivity }, t, rules)) {
        stats.closedIdle++
        wire.close()
      }
    }
    if (wires.size > 0 && !sweepTimer && !closed) {
      sweepTimer = setInterval(idleSweep, idleSweepMs(rules))
      ;(sweepTimer as { unref?: () => void }).unref?.()
    } else if (wires.size === 0 && sweepTimer) {
      clearInterval(sweepTimer)
      sweepTimer = undefined
    }
  }

  function track(peer: SimplePeerLike, onConnect: () => void, onSettled?: (ok: boolean) => void, timeoutMs = swarmRules.connectTimeoutMs): void {
    connecting++
    stats.attempts++
    let settled = false
    const settle = (ok: boolean) => {
      if (settled) return
      settled = true
      connecting--
      if (!ok) stats.failed++
      onSettled?.(ok)
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
    }, timeoutMs).unref?.()
  }

  const answers = createAnswers({
    ...(options.offers && { admission: options.offers }),
    newPeer: () => newPeer(false),
    track,
    timeoutMs: swarmRules.answerTimeoutMs,
  })

  /** Sends to the swarm's tracker with the session token (the tracker checks it when the last one it saw has expired). */
  async function send(entry: JoinedSwarm, request: TrackerRequest): Promise<void> {
    const token = await options.token?.(false).catch(() => undefined)
    if (token) entry.tracker.lastToken = token
    entry.tracker.client.send(token ? { ...request, token } : request)
  }

  /** How many offers the swarm's next announce carries (core/peer-connections.ts), after dropping those nobody answered. */
  function offerDecision(entry: JoinedSwarm) {
    // An answer takes a second; an offer unanswered for long is one the tracker forgot (it keeps
    // a few per socket) or its receiver ignored: its RTCPeerConnection goes.
    for (const [id, p] of entry.pending) {
      if (offerExpired(p.at, Date.now(), swarmRules)) {
        p.peer.destroy()
        entry.pending.delete(id)
      }
    }
    const t = now()
    return offersToMake(
      {
        now: t,
        left: entry.left(),
        others: entry.others,
        peers: entry.peerSet.size,
        usefulPeers: entry.peerSet.usefulPeers(),
        pending: entry.pending.size,
        room: offerRoom({ open: connections(), connecting }, swarmRules),
        paused: Date.now() < entry.tracker.offersPausedUntil,
        askedUntil: entry.askedUntil,
        budget: budget.available(t),
      },
      rules,
    )
  }

  /** Offers now if the swarm needs them; while the peers asked over their links may still answer, looks again when they have had the time. */
  function offerIfNeeded(entry: JoinedSwarm): void {
    if (entry.closed || entry.refused) return
    const d = offerDecision(entry)
    if (d.offers > 0) void announce(entry).catch(() => {})
    else if (d.reason === 'asking' && d.retryAt !== undefined && !entry.offerTimer) {
      entry.offerTimer = setTimeout(
        () => {
          entry.offerTimer = undefined
          offerIfNeeded(entry)
        },
        Math.max(0, d.retryAt - now()),
      )
      entry.offerTimer.unref?.()
    }
  }

  async function announce(entry: JoinedSwarm, event?: 'started' | 'stopped' | 'completed'): Promise<void> {
    if ((entry.closed || entry.refused) && event !== 'stopped') return
    // A holder (nothing left to fetch) sends no offers: those who still fetch offer to it, and
    // the tracker hands their offers to holders first. Each offer is a whole RTCPeerConnection,
    // made only when the peers this listener is connected to do not cover the swarm.
    const want = event === 'stopped' ? 0 : offerDecision(entry).offers
    const offers: Array<{ offer: { type: 'offer'; sdp: string }; offer_id: string }> = []
    if (want > 0) {
      budget.spend(want, now())
      const made = await Promise.all(Array.from({ length: want }, () => makeOffer()))
      for (const m of made) {
        if (!m) continue
        const offerId = randomId()
        entry.pending.set(offerId, { peer: m.peer, at: Date.now() })
        offers.push({ offer: { type: 'offer', sdp: m.sdp }, offer_id: offerId })
      }
    }
    entry.holder = entry.left() === 0 && event !== 'stopped'
    await send(entry, {
      action: 'announce',
      info_hash: entry.peerSet.infoHash,
      peer_id: entry.peerId,
      numwant: offers.length,
      uploaded: uploads.stats().uploadedBytes,
      downloaded: entry.peerSet.bytesFromPeers,
      left: entry.left(),
      ...(event && { event }),
      ...(offers.length && { offers }),
      ...(options.network && { network: options.network }),
      chorus_track: chorusTrack(entry.peerSet.quality),
    })
  }

  function scheduleAnnounce(entry: JoinedSwarm, seconds: number): void {
    if (entry.timer) clearTimeout(entry.timer)
    // Fewer peers than we would like: ask again soon, then less and less often while the swarm
    // stays small (5, 10, 20, 40 s...); otherwise at the tracker's interval.
    // A holder waits for offers and announces at the tracker's interval.
    const next = nextAnnounce(
      { left: entry.left(), usefulPeers: () => entry.peerSet.usefulPeers(), peers: entry.peerSet.size, others: entry.others, lonely: entry.lonely, intervalSec: seconds },
      random,
      {
        ...swarmRules,
        enoughPeers: rules.enoughPeers,
      },
    )
    entry.lonely = next.lonely
    entry.timer = setTimeout(() => void announce(entry).catch(() => {}), next.waitSec * 1000)
    entry.timer.unref?.()
  }

  /**
   * The tracker refused an expired token (and took this socket out of its swarms): send the
   * current token, a new session's when the tracker refused the last one already, and announce
   * every swarm on that tracker again. At most once every 5 s per tracker.
   */
  function refreshToken(t: TrackerEntry): void {
    const now = Date.now()
    if (t.refreshing || now - t.lastRefreshAt < 5000 || !options.token) return
    const fresh = t.expiredAt !== undefined && now - t.expiredAt < 30_000
    t.expiredAt = now
    t.refreshing = true
    t.lastRefreshAt = now
    const before = t.lastToken
    void (async () => {
      const token = await options.token!(fresh).catch(() => undefined)
      if (!token || (fresh && token === before)) {
        warn('token_expired', 'the tracker refused the session token as expired and no fresh one could be had: peers are off until one can')
        return
      }
      stats.tokenRefreshes++
      for (const e of swarms.values()) if (e.tracker === t && !e.closed) await announce(e, 'started').catch(() => {})
    })()
      .catch(() => {})
      .finally(() => (t.refreshing = false))
  }

  /** The tracker says another socket holds this swarm's peer id (our old one, half-open there): take a new one. */
  function renewPeerId(entry: JoinedSwarm): void {
    // Failures for announces that left before the renewal arrive after it: one renewal answers them all.
    if (Date.now() - entry.renewedAt < 5000) return
    entry.formerId = entry.peerId
    entry.peerId = randomId()
    entry.renewedAt = Date.now()
    stats.peerIdRenewals++
    void announce(entry, 'started').catch(() => {})
  }

  function onFailure(t: TrackerEntry, reply: Extract<TrackerReply, { failure_code: string }>): void {
    const entry = typeof reply.info_hash === 'string' ? swarms.get(reply.info_hash) : undefined
    switch (reply.failure_code) {
      case 'token_expired':
        refreshToken(t)
        break
      case 'peer_id_taken':
        if (entry && entry.tracker === t && !entry.closed) renewPeerId(entry)
        break
      case 'one_peer_id_per_swarm':
        // This socket is in the swarm under the id we replaced: leave under that one, then announce again.
        if (entry && entry.tracker === t && !entry.closed && entry.formerId) {
          const former = entry.formerId
          entry.formerId = undefined
          void send(entry, { action: 'announce', info_hash: entry.peerSet.infoHash, peer_id: former, event: 'stopped', left: entry.left(), chorus_track: chorusTrack(entry.peerSet.quality) })
            .then(() => announce(entry, 'started'))
            .catch(() => {})
        }
        break
      case 'track_not_covered':
      case 'track_mismatch':
        // Not an error to retry: this session may not share this track. It plays from the servers.
        warn(reply.failure_code, `the tracker refused peers for this track: ${reply['failure reason']}`)
        if (entry && entry.tracker === t && !entry.refused) {
          entry.refused = true
          if (entry.timer) clearTimeout(entry.timer)
          for (const p of entry.pending.values()) p.peer.destroy()
          entry.pending.clear()
        }
        break
    }
  }

  function onTrackerMessage(t: TrackerEntry, reply: TrackerReply): void {
    if ('failure_code' in reply) {
      onFailure(t, reply)
      return
    }
    if ('warning_code' in reply && reply.warning_code === 'peer_limit') {
      // Offers made now would only time out unanswered: none to this tracker for a while, and
      // the pending ones go. Peers already met go on; playback goes on from the servers.
      t.offersPausedUntil = peerLimitPausedUntil(Date.now(), swarmRules)
      for (const e of swarms.values()) {
        if (e.tracker !== t) continue
        for (const p of e.pending.values()) p.peer.destroy()
        e.pending.clear()
      }
      warn('peer_limit', reply['warning message'])
      return
    }
    if (!('info_hash' in reply) || typeof reply.info_hash !== 'string') return
    const entry = swarms.get(reply.info_hash)
    if (!entry || entry.closed || entry.tracker !== t) return
    if ('interval' in reply) {
      const first = entry.others === undefined
      if (typeof reply.complete === 'number' && typeof reply.incomplete === 'number') entry.others = Math.max(0, reply.complete + reply.incomplete - 1)
      // The first announce only asks who is there; with someone there, offers go out at once
      // (unless the peers this listener is connected to cover the swarm).
      if (offerOnReply({ first, others: entry.others, left: entry.left() })) offerIfNeeded(entry)
      scheduleAnnounce(entry, announceInterval(reply.interval, swarmRules))
      return
    }
    if ('offer' in reply && reply.offer && 'offer_id' in reply) {
      onOffer(entry, reply.peer_id, reply.offer, reply.offer_id)
      return
    }
    if ('answer' in reply && reply.answer && 'offer_id' in reply) {
      const pending = entry.pending.get(reply.offer_id)
      if (!pending) return
      entry.pending.delete(reply.offer_id)
      const remote = reply.peer_id
      if (banned.has(remote) || entry.peerSet.has(remote) || wires.has(remote) || remote === entry.peerId) {
        pending.peer.destroy()
        return
      }
      track(pending.peer, () => connected(entry, remote, pending.peer))
      pending.peer.signal(reply.answer)
    }
  }

  /**
   * Whether this listener can use a connection in the swarm: it wants chunks there, or can serve
   * some. What it holds is asked of the cache only when the rule gets that far (a getter).
   */
  const useful = (entry: JoinedSwarm) =>
    answerUseful(
      {
        left: entry.left(),
        uploads: options.uploads !== false,
        peers: entry.peerSet.size,
        get holdsChunks() {
          return entry.peerSet.source.held().size > 0
        },
      },
      swarmRules,
    )
  const roomFor = () => underHardCap({ open: connections(), connecting }, swarmRules)

  function onOffer(entry: JoinedSwarm, remote: string, offer: SessionDescription, offerId: string): void {
    if (typeof remote !== 'string' || typeof offer !== 'object' || offer === null) return
    if (remote === entry.peerId || banned.has(remote) || entry.peerSet.has(remote) || wires.has(remote) || !roomFor()) return
    const sdp = offer.sdp
    answers.offer({
      swarm: entry.peerSet.infoHash,
      remote,
      fingerprint: typeof sdp === 'string' ? fingerprint(sdp) : '',
      peerSetSize: entry.peerSet.size,
      useful: useful(entry),
      sane: offer.type === 'offer' && saneOffer(sdp),
      payload: {
        offer,
        connected: (peer) => connected(entry, remote, peer),
        answer: (answerSdp) => {
          if (entry.closed) return
          void send(entry, {
            action: 'announce',
            info_hash: entry.peerSet.infoHash,
            peer_id: entry.peerId,
            to_peer_id: remote,
            answer: { type: 'answer', sdp: outgoing(answerSdp) },
            offer_id: offerId,
          })
        },
        wanted: () => !entry.closed && !entry.peerSet.has(remote) && !wires.has(remote) && !banned.has(remote) && roomFor(),
      },
    })
  }

  function trackerFor(infoHash: string): TrackerEntry {
    const url = options.tracker.replace('{info_hash}', infoHash)
    const existing = trackers.get(url)
    if (existing) {
      existing.users++
      return existing
    }
    const entry: TrackerEntry = { url, client: undefined as unknown as TrackerClient, users: 1, expiredAt: undefined, refreshing: false, lastRefreshAt: 0, lastToken: undefined, offersPausedUntil: 0 }
    entry.client = createTrackerClient({
      url,
      WebSocket: options.WebSocket,
      minDelayMs: 500,
      maxDelayMs: 15_000,
      random,
      onMessage: (reply) => onTrackerMessage(entry, reply),
      // The tracker forgets a socket's swarms when it drops: announce again on every reconnect.
      onOpen: () => {
        for (const e of swarms.values()) if (e.tracker === entry) void announce(e, 'started').catch(() => {})
      },
    })
    trackers.set(url, entry)
    return entry
  }

  function closeSwarm(infoHash: string): void {
    const entry = swarms.get(infoHash)
    if (!entry) return
    entry.closed = true
    if (entry.timer) clearTimeout(entry.timer)
    clearTimeout(entry.offerTimer)
    void announce(entry, 'stopped').catch(() => {})
    for (const p of entry.pending.values()) p.peer.destroy()
    if (entry.peerSet.firstPeerByteMs !== undefined) {
      firstBytes.push(entry.peerSet.firstPeerByteMs)
      if (firstBytes.length > 256) firstBytes.shift()
    }
    // Its swarm closes on every connection (leave); the connections stay for the other swarms, or until idle.
    entry.peerSet.close()
    swarms.delete(infoHash)
  }

  return {
    async join(quality, source, left) {
      const infoHash = await swarmInfoHash(quality.trackId, quality.version, quality.bitrate)
      const existing = swarms.get(infoHash)
      if (existing && !existing.closed) {
        existing.users++
        return existing.peerSet
      }
      // A playback and a prefetch may join one swarm at the same moment: one entry for both.
      const underway = joining.get(infoHash)
      if (underway) {
        const entry = await underway
        entry.users++
        return entry.peerSet
      }
      const made = (async () => {
        const peerSet = createPeerSet(quality, infoHash, {
          source,
          serve: (peer, link, index) =>
            uploads.request(
              {
                key: `${infoHash} ${peer}`,
                link,
                source,
                chunkLength: (i) => qualityChunkLength(quality, i),
                violation: () => {
                  stats.protocolViolations++
                  ban(peer)
                },
              },
              index,
            ),
          cancelServe: (peer, index) => uploads.cancel(`${infoHash} ${peer}`, index),
          gone: (peer) => uploads.gone(`${infoHash} ${peer}`),
          received: (bytes) => uploads.downloaded(bytes),
          // Whole now: the tracker lists it among the holders at once (seekers' offers go to holders first).
          holds: () => {
            const e = swarms.get(infoHash)
            if (e && !e.closed && !e.holder && e.left() === 0) void announce(e, 'completed').catch(() => {})
          },
          ban,
          now,
        })
        const tracker = trackerFor(infoHash)
        const entry: JoinedSwarm = {
          peerSet,
          tracker,
          peerId: randomId(),
          formerId: undefined,
          refused: false,
          renewedAt: 0,
          pending: new Map(),
          timer: undefined,
          left,
          closed: false,
          others: undefined,
          lonely: 0,
          users: 1,
          holder: false,
          askedUntil: 0,
          offerTimer: undefined,
        }
        swarms.set(infoHash, entry)
        // Ask the peers this listener is connected to first: those in the swarm open it on their
        // connection, and offers (new connections) go out only if they do not cover it. A seeder
        // only answers peers that said they are in the swarm.
        const fetching = announceOnLinks({ left: left(), refused: false, closed: false })
        let asked = 0
        for (const [remote, wire] of wires) {
          if (!fetching && (!wire.remoteIn(infoHash) || options.uploads === false)) continue
          openLane(entry, remote, wire)
          asked++
        }
        if (fetching && asked > 0) entry.askedUntil = now() + rules.askMs
        if (tracker.client.connected) await announce(entry, 'started').catch(() => {})
        scheduleAnnounce(entry, swarmRules.firstAnnounceSec)
        return entry
      })()
      joining.set(infoHash, made)
      try {
        return (await made).peerSet
      } finally {
        joining.delete(infoHash)
      }
    },
    leave(infoHash: string): void {
      const entry = swarms.get(infoHash)
      if (!entry) return
      if (--entry.users > 0) return
      closeSwarm(infoHash)
    },
    setUploading(allowed: boolean): void {
      const before = emergencies
      emergencies = Math.max(0, emergencies + (allowed ? -1 : 1))
      uploads.setEmergency(emergencies > 0)
      if ((before === 0) !== (emergencies === 0)) {
        for (const e of swarms.values()) e.peerSet.broadcast({ type: emergencies > 0 ? 'choke' : 'unchoke' })
      }
    },
    downloaded(bytes: number): void {
      uploads.downloaded(bytes)
    },
    peerIdOf(infoHash: string): string | undefined {
      return swarms.get(infoHash)?.peerId
    },
    stats(): NetworkStats {
      const u = uploads.stats()
      const o = answers.stats()
      return {
        swarms: swarms.size,
        connections: connections(),
        offers: stats.offers,
        swarmsOnExistingConnections: stats.swarmsOnExistingConnections,
        closedIdle: stats.closedIdle,
        firstPeerByteMs: median([...firstBytes, ...[...swarms.values()].flatMap((e) => (e.peerSet.firstPeerByteMs === undefined ? [] : [e.peerSet.firstPeerByteMs]))]),
        attempts: stats.attempts,
        established: stats.established,
        failed: stats.failed,
        uploadedBytes: u.uploadedBytes,
        banned: banned.size,
        protocolViolations: stats.protocolViolations,
        offersAnswered: o.answered,
        offersQueued: o.queued,
        offersIgnored: o.ignored,
        answering: o.pending,
        assemblingBytes: [...swarms.values()].reduce((n, e) => n + e.peerSet.assemblingBytes(), 0),
        peerIdRenewals: stats.peerIdRenewals,
        tokenRefreshes: stats.tokenRefreshes,
        uploads: u,
      }
    },
    async close(): Promise<void> {
      closed = true
      answers.close()
      clearInterval(sweepTimer)
      for (const id of [...swarms.keys()]) closeSwarm(id)
      for (const wire of [...wires.values()]) wire.close()
      uploads.close()
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

function median(values: number[]): number | undefined {
  if (values.length === 0) return undefined
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)]
}
