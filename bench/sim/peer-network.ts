import { DEFAULT_CONNECTION_RULES, announceOnLinks, createOfferBudget, idleConnection, offersToMake } from '../../client-sdk/core.js'
import { cacheHas, cacheHeld } from './cache.js'
import { type SimContext, hex40 } from './context.js'
import type { ClientState, SimLink, SimListener, SwarmEntry } from './types.js'

/**
 * A listener's place in the peer network, under virtual time. When to offer (a new
 * RTCPeerConnection), the client's offer budget, whether a swarm is told to connected peers and
 * when a connection is idle are the SDK's own core (client-sdk/src/core/peer-connections.ts,
 * default rules), called as p2p/network.ts calls it; one connection per remote listener carries
 * every swarm both take part in (p2p/peer-wire.ts: `swarm`, `leave`), and a swarm joined to fetch
 * is asked of connected peers before any offer. What network.ts does around the core (an adapter,
 * not pure) is restated: an offer unanswered for 10 s is dropped, 50 connections (60 counting
 * those being set up), a fetching swarm short of peers announces again after 5, 10, 20, 40, 80 s
 * (+-20 %), the first announce only asks who is there, no offers for 5 minutes after the
 * tracker's peer_limit, the idle sweep every 10 s; as are its uploads (4 upload slots under the
 * SDK's token bucket, everyone choked in an emergency) and the answerer's side (every relayed
 * offer answered while there is room: core/offer-admission.ts is not modelled). Offers and
 * answers go through the tracker's core. Models: a connection comes up two peer round trips
 * after the answer, or fails (`connectSuccess`), which the SDK learns after ICE gives up (10 s);
 * a message between peers takes the receiving end's one-way delay.
 */
const RULES = DEFAULT_CONNECTION_RULES
const MAX_CONNECTIONS = 50
const HARD_MAX = 60
const UPLOAD_SLOTS = 4
const PENDING_TTL_MS = 10_000
const ANSWER_TIMEOUT_MS = 10_000
const PEER_LIMIT_PAUSE_MS = 5 * 60_000
const SWEEP_MS = Math.max(1000, Math.min(10_000, RULES.idleMs / 4))
const ICE_FAILURE_MS = 10_000

export function newClientState(plays: ClientState['plays']): ClientState {
  return {
    closed: false,
    tokenAt: undefined,
    trackerOpenAt: Number.POSITIVE_INFINITY,
    keys: new Map(),
    swarms: new Map(),
    links: new Map(),
    connecting: 0,
    budget: createOfferBudget(RULES),
    offersPausedUntil: 0,
    sweeping: false,
    uploading: new Map(),
    emergencies: 0,
    seeding: [],
    prefetched: new Map(),
    upcoming: [],
    current: undefined,
    lastTrack: undefined,
    stats: {
      plays: 0,
      prefetchedPlays: 0,
      prefetchedBytes: 0,
      prefetchedBytesUnused: 0,
      offers: 0,
      answers: 0,
      attempts: 0,
      established: 0,
      failed: 0,
      closedIdle: 0,
      swarmsOnExistingConnections: 0,
      uploadedBytes: 0,
    },
    plays,
    next: 0,
  }
}

/** The session token: asked once per client (as it is created), through the edge to the origin. */
export function tokenAt(ctx: SimContext, l: SimListener): number {
  const c = l.client!
  c.tokenAt ??= ctx.edge.passThrough(l)
  return c.tokenAt
}

/** The tracker socket, opened by the first join once the token is there (its URL carries it): one more round trip. */
function openTracker(ctx: SimContext, l: SimListener): void {
  const c = l.client!
  if (!ctx.tracker || c.trackerOpenAt !== Number.POSITIVE_INFINITY) return
  const openAt = Math.max(ctx.q.now, tokenAt(ctx, l)) + l.rttMs
  c.trackerOpenAt = openAt
  ctx.q.at(openAt, () => {
    if (l.client !== c || c.closed) return
    l.socket = ctx.tracker!.open(l)
  })
}

/** What the offer rule is told this swarm still lacks (the what-if `holderOffers`: holders offer as if they still fetched). */
const leftForOffers = (ctx: SimContext, entry: SwarmEntry) => (ctx.seeding.holderOffers ? Math.max(1, entry.left()) : entry.left())

/** Peers in the swarm that can cover it (the SDK's PeerSet.usefulPeers): not choking, holding at least half of what this listener lacks. */
function usefulPeers(ctx: SimContext, l: SimListener, entry: SwarmEntry): number {
  const own = l.cache.tracks.get(entry.track)
  const chunks = ctx.catalog.chunks(entry.track)
  let lacking = 0
  for (let i = 0; i < chunks; i++) if (own?.[i] !== 1) lacking++
  let n = 0
  for (const remote of entry.peers) {
    const other = ctx.listeners.get(remote)
    const held = other?.cache.tracks.get(entry.track)
    if (!held || (other!.client?.emergencies ?? 0) > 0) continue
    let has = 0
    for (let i = 0; i < chunks; i++) if (held[i] === 1 && own?.[i] !== 1) has++
    if (has > 0 && has * 2 >= lacking) n++
  }
  return n
}

/** How many offers the swarm's next announce carries: the SDK's core, told what network.ts tells it. */
function offerDecision(ctx: SimContext, l: SimListener, entry: SwarmEntry) {
  const c = l.client!
  const now = ctx.q.now
  for (const [id, at] of entry.pending) if (now - at > PENDING_TTL_MS) entry.pending.delete(id)
  return offersToMake(
    {
      now,
      left: leftForOffers(ctx, entry),
      others: entry.others,
      peers: entry.peers.size,
      usefulPeers: usefulPeers(ctx, l, entry),
      pending: entry.pending.size,
      room: Math.max(0, Math.min(MAX_CONNECTIONS - c.links.size, HARD_MAX - c.links.size - c.connecting)),
      paused: now < c.offersPausedUntil,
      askedUntil: entry.askedUntil,
      budget: c.budget.available(now),
    },
    RULES,
  )
}

/** Offers now if the swarm needs them; while the peers asked over their connections may still answer, looks again when they have had the time. */
function offerIfNeeded(ctx: SimContext, l: SimListener, entry: SwarmEntry): void {
  const c = l.client
  if (!c || entry.closed || c.swarms.get(entry.track) !== entry) return
  const d = offerDecision(ctx, l, entry)
  if (d.offers > 0) announce(ctx, l, entry)
  else if (d.reason === 'asking' && d.retryAt !== undefined && !entry.offerRetry) {
    entry.offerRetry = true
    ctx.q.at(Math.max(ctx.q.now, d.retryAt), () => {
      entry.offerRetry = false
      offerIfNeeded(ctx, l, entry)
    })
  }
}

function announce(ctx: SimContext, l: SimListener, entry: SwarmEntry, event?: 'started' | 'stopped'): void {
  const c = l.client
  if (!c || !ctx.tracker) return
  if (entry.closed && event !== 'stopped') return
  if (ctx.q.now < c.trackerOpenAt) {
    // Not connected yet: the SDK announces every swarm as the socket opens.
    if (event !== 'stopped') ctx.q.at(c.trackerOpenAt, () => announce(ctx, l, entry, 'started'))
    return
  }
  const want = event === 'stopped' ? 0 : offerDecision(ctx, l, entry).offers
  const offers: Array<{ offer: { type: 'offer'; sdp: string }; offer_id: string }> = []
  if (want > 0) {
    c.budget.spend(want, ctx.q.now)
    c.stats.offers += want
    for (let i = 0; i < want; i++) {
      const id = hex40(++ctx.seq, 'd')
      entry.pending.set(id, ctx.q.now)
      offers.push({ offer: { type: 'offer', sdp: 'v=0' }, offer_id: id })
    }
  }
  ctx.tracker.send(l, {
    action: 'announce',
    info_hash: entry.infoHash,
    peer_id: l.peerId,
    numwant: offers.length,
    uploaded: c.stats.uploadedBytes,
    downloaded: 0,
    left: entry.left(),
    ...(event && { event }),
    ...(offers.length && { offers }),
  })
}

/** network.ts scheduleAnnounce: a fetching swarm short of peers asks again after 5, 10, 20, 40, 80 s; otherwise at the tracker's interval. */
function scheduleAnnounce(ctx: SimContext, l: SimListener, entry: SwarmEntry, seconds: number): void {
  const timer = ++entry.timer
  const small = leftForOffers(ctx, entry) > 0 && usefulPeers(ctx, l, entry) < RULES.enoughPeers && (entry.others ?? 1) > entry.peers.size
  entry.lonely = small ? entry.lonely + 1 : 0
  const wait = small ? Math.min(seconds, 5 * 2 ** Math.min(entry.lonely - 1, 4) * (0.8 + ctx.random() * 0.4)) : seconds
  ctx.q.after(wait * 1000, () => {
    if (entry.timer === timer && !entry.closed && l.client?.swarms.get(entry.track) === entry) announce(ctx, l, entry)
  })
}

/** A frame from the tracker (an announce reply, a warning, a relayed offer or answer). */
export function onTrackerMessage(ctx: SimContext, l: SimListener, reply: Record<string, unknown>): void {
  const c = l.client
  if (!c || c.closed || typeof reply.info_hash !== 'string') return
  if (reply.warning_code === 'peer_limit') {
    // Offers made now would only time out unanswered: none for a while, and the pending ones go.
    c.offersPausedUntil = ctx.q.now + PEER_LIMIT_PAUSE_MS
    for (const e of c.swarms.values()) e.pending.clear()
    return
  }
  const track = Number.parseInt(reply.info_hash.slice(1), 16)
  const entry = c.swarms.get(track)
  if (!entry || entry.closed) return
  if (typeof reply.interval === 'number') {
    const first = entry.others === undefined
    if (typeof reply.complete === 'number' && typeof reply.incomplete === 'number') entry.others = Math.max(0, reply.complete + reply.incomplete - 1)
    // The first announce only asks who is there; with someone there, offers go out at once (unless connected peers cover the swarm).
    if (first && (entry.others ?? 0) > 0 && leftForOffers(ctx, entry) > 0) offerIfNeeded(ctx, l, entry)
    scheduleAnnounce(ctx, l, entry, Math.max(5, Math.min(120, reply.interval)))
    return
  }
  const remote = typeof reply.peer_id === 'string' ? Number.parseInt(reply.peer_id.slice(1), 16) : -1
  const other = ctx.listeners.get(remote)
  if (!other) return
  if (reply.offer !== undefined && typeof reply.offer_id === 'string') {
    if (remote === l.index || entry.peers.has(remote) || c.links.has(remote) || c.links.size + c.connecting >= HARD_MAX) return
    // Answer it (a new RTCPeerConnection): the answer goes back through the tracker; the offerer then connects.
    c.connecting++
    c.stats.answers++
    c.stats.attempts++
    const attempt = { settled: false }
    ctx.tracker!.send(l, { action: 'announce', info_hash: entry.infoHash, peer_id: l.peerId, to_peer_id: other.peerId, answer: { type: 'answer', sdp: 'v=0' }, offer_id: reply.offer_id })
    const offerId = reply.offer_id
    ctx.answering.set(offerId, { client: c, attempt })
    ctx.q.after(ANSWER_TIMEOUT_MS, () => {
      ctx.answering.delete(offerId)
      if (attempt.settled) return
      attempt.settled = true
      c.connecting--
      c.stats.failed++
    })
    return
  }
  if (reply.answer !== undefined && typeof reply.offer_id === 'string') {
    if (!entry.pending.delete(reply.offer_id)) return
    const answerer = ctx.answering.get(reply.offer_id)
    ctx.answering.delete(reply.offer_id)
    if (!answerer || answerer.attempt.settled || entry.peers.has(remote) || c.links.has(remote)) return
    c.connecting++
    c.stats.attempts++
    const ok = ctx.random() < ctx.connectSuccess
    const setupMs = ok ? 2 * (l.net.peerOneWayMs + other.net.peerOneWayMs) : ICE_FAILURE_MS
    ctx.q.after(setupMs, () => {
      const b = answerer.client
      const settle = (cs: ClientState) => {
        if (cs.closed) return
        cs.connecting--
        if (!ok) cs.stats.failed++
      }
      settle(c)
      if (!answerer.attempt.settled) {
        answerer.attempt.settled = true
        settle(b)
      }
      if (!ok) return
      const otherEntry = b.swarms.get(track)
      // network.ts connected(): either end may have left the swarm, met the other meanwhile, or filled up: then the connection is refused (bye).
      const usable = (cs: ClientState, e: SwarmEntry | undefined, peer: number): e is SwarmEntry =>
        !cs.closed && e !== undefined && !e.closed && !e.peers.has(peer) && !cs.links.has(peer) && cs.links.size < HARD_MAX
      if (l.client !== c || other.client !== b || !usable(c, entry, remote) || !usable(b, otherEntry, l.index)) return
      connected(ctx, l, other, track)
    })
  }
}

const sideOf = (link: SimLink, l: SimListener): 0 | 1 => (link.ends[0] === l.index ? 0 : 1)
const otherEnd = (ctx: SimContext, link: SimLink, l: SimListener) => ctx.listeners.get(link.ends[1 - sideOf(link, l)]!)!

/** A connection is up between `l` and `other`, made for `track`: the swarm opens on it at both ends, then each end tells the other the swarms it fetches from (announceOnLinks). */
function connected(ctx: SimContext, l: SimListener, other: SimListener, track: number): void {
  const link: SimLink = { ends: [l.index, other.index], home: track, said: [new Set(), new Set()], heard: [new Set([track]), new Set([track])], lastActivity: ctx.q.now, closed: false }
  for (const [end, peer] of [
    [l, other],
    [other, l],
  ] as const) {
    end.client!.stats.established++
    end.client!.links.set(peer.index, link)
  }
  for (const end of [l, other]) openLane(ctx, end, link, track)
  for (const end of [l, other])
    for (const e of [...end.client!.swarms.values()]) if (e.track !== track && announceOnLinks({ left: e.left(), refused: false, closed: e.closed })) openLane(ctx, end, link, e.track)
  for (const end of [l, other]) startSweep(ctx, end)
}

/** This end takes part in `track` on the connection (the SDK's wire.open): says `swarm`; its lane opens once the other end said so too. */
function openLane(ctx: SimContext, l: SimListener, link: SimLink, track: number): void {
  const s = sideOf(link, l)
  if (link.closed || link.said[s].has(track)) return
  link.said[s].add(track)
  const other = otherEnd(ctx, link, l)
  if (link.heard[s].has(track)) laneOpen(ctx, l, link, track, other)
  if (track !== link.home) ctx.q.after(other.net.peerOneWayMs, () => heardSwarm(ctx, other, link, track))
}

/** The other end says it is in `track` (peer-wire.ts remoteSays): the lane opens if this end said so too; otherwise this end takes part if it is in the swarm (network.ts onSwarm). */
function heardSwarm(ctx: SimContext, l: SimListener, link: SimLink, track: number): void {
  if (link.closed) return
  const s = sideOf(link, l)
  link.heard[s].add(track)
  if (link.said[s].has(track)) laneOpen(ctx, l, link, track, otherEnd(ctx, link, l))
  else {
    const e = l.client?.swarms.get(track)
    if (e && !e.closed) openLane(ctx, l, link, track)
  }
}

/** The lane of `track` is open at this end: `other` joins the swarm's peers here; its bitfield (and its choke, in an emergency) arrives after this end's delay. */
function laneOpen(ctx: SimContext, l: SimListener, link: SimLink, track: number, other: SimListener): void {
  const c = l.client
  const entry = c?.swarms.get(track)
  if (!c || !entry || entry.closed || entry.peers.has(other.index)) return
  if (track !== link.home) c.stats.swarmsOnExistingConnections++
  link.lastActivity = ctx.q.now
  entry.peers.add(other.index)
  ctx.q.after(l.net.peerOneWayMs, () => {
    if (!entry.peers.has(other.index)) return
    const holds = cacheHeld(other.cache, track)
    for (const h of entry.hooks) h.onPeer?.(other.index, holds)
    if (other.client && other.client.emergencies > 0) for (const h of entry.hooks) h.onChoke?.(other.index, true)
  })
}

/** This end leaves `track` on the connection (peer-wire.ts closeLane); with `tell`, the other end hears `leave` and closes its lane too. */
function closeLane(ctx: SimContext, l: SimListener, link: SimLink, track: number, tell: boolean): void {
  const s = sideOf(link, l)
  if (!link.said[s].delete(track)) return
  link.lastActivity = ctx.q.now
  const other = otherEnd(ctx, link, l)
  dropPeer(l, track, other.index)
  if (tell && !link.closed) {
    link.heard[s].delete(track)
    ctx.q.after(other.net.peerOneWayMs, () => heardLeave(ctx, other, link, track))
  }
}

function heardLeave(ctx: SimContext, l: SimListener, link: SimLink, track: number): void {
  if (link.closed) return
  const s = sideOf(link, l)
  if (!link.heard[s].delete(track)) return
  closeLane(ctx, l, link, track, true)
}

function dropPeer(l: SimListener, track: number, remote: number): void {
  const entry = l.client?.swarms.get(track)
  if (entry?.peers.delete(remote)) for (const h of entry.hooks) h.onPeerGone?.(remote)
}

/** The connection ends (bye): every swarm on it closes at both ends. */
function closeLink(ctx: SimContext, link: SimLink): void {
  if (link.closed) return
  link.closed = true
  for (const s of [0, 1] as const) {
    const l = ctx.listeners.get(link.ends[s])!
    const remote = link.ends[1 - s]!
    if (l.client?.links.get(remote) === link) l.client.links.delete(remote)
    for (const track of link.said[s]) dropPeer(l, track, remote)
    link.said[s].clear()
    link.heard[s].clear()
  }
}

/** network.ts idleSweep: closes the connections the SDK's idle rule says to, every few seconds while there are any. */
function startSweep(ctx: SimContext, l: SimListener): void {
  const c = l.client!
  if (c.sweeping) return
  c.sweeping = true
  const sweep = () => {
    if (l.client !== c || c.closed) return
    for (const link of [...c.links.values()]) {
      const s = sideOf(link, l)
      let fetching = 0
      for (const t of link.said[s]) if (link.heard[s].has(t) && (c.swarms.get(t)?.left() ?? 0) > 0) fetching++
      if (idleConnection({ fetching, lastActivity: link.lastActivity }, ctx.q.now, RULES)) {
        c.stats.closedIdle++
        closeLink(ctx, link)
      }
    }
    if (c.links.size > 0) ctx.q.after(SWEEP_MS, sweep)
    else c.sweeping = false
  }
  ctx.q.after(SWEEP_MS, sweep)
}

/** Joins (or returns) the swarm of `track`: asked of connected peers first; its announces start once the token and the tracker socket are there. */
export function join(ctx: SimContext, l: SimListener, track: number, left: () => number): SwarmEntry {
  const c = l.client!
  const existing = c.swarms.get(track)
  if (existing && !existing.closed) return existing
  const entry: SwarmEntry = {
    track,
    infoHash: hex40(track, 'c'),
    closed: false,
    pending: new Map(),
    peers: new Set(),
    hooks: new Set(),
    timer: 0,
    left,
    others: undefined,
    lonely: 0,
    askedUntil: 0,
    offerRetry: false,
  }
  c.swarms.set(track, entry)
  // network.ts join: a fetching swarm is asked of every connected peer; a seeder takes part only where the peer said it is in the swarm.
  const fetching = announceOnLinks({ left: left(), refused: false, closed: false })
  let asked = 0
  for (const link of [...c.links.values()]) {
    if (!fetching && !link.heard[sideOf(link, l)].has(track)) continue
    openLane(ctx, l, link, track)
    asked++
  }
  if (fetching && asked > 0) entry.askedUntil = ctx.q.now + RULES.askMs
  // The SDK awaits the session token before it joins (its tracker URL carries it).
  openTracker(ctx, l)
  const at = Math.max(ctx.q.now, tokenAt(ctx, l))
  ctx.q.at(at, () => {
    if (entry.closed || l.client !== c) return
    announce(ctx, l, entry, 'started')
    scheduleAnnounce(ctx, l, entry, 10)
  })
  return entry
}

/** Leaves the swarm: announced as stopped, its lane closed on every connection (the connections stay, for other swarms or until idle). */
function leave(ctx: SimContext, l: SimListener, track: number): void {
  const c = l.client
  const entry = c?.swarms.get(track)
  if (!c || !entry) return
  announce(ctx, l, entry, 'stopped')
  entry.closed = true
  entry.pending.clear()
  for (const link of [...c.links.values()]) closeLane(ctx, l, link, track, true)
  for (const remote of [...entry.peers]) dropPeer(l, track, remote)
  entry.hooks.clear()
  c.swarms.delete(track)
}

/** Swarms served with nothing playing in them: ended playbacks and cached tracks, the most recent few (client.ts `release`). */
export function release(ctx: SimContext, l: SimListener, track: number): void {
  const c = l.client!
  const at = c.seeding.indexOf(track)
  if (at >= 0) c.seeding.splice(at, 1)
  c.seeding.push(track)
  while (c.seeding.length > ctx.seeding.tracks) leave(ctx, l, c.seeding.shift()!)
}

export function closeNetwork(ctx: SimContext, l: SimListener): void {
  const c = l.client!
  for (const track of [...c.swarms.keys()]) leave(ctx, l, track)
  for (const link of [...c.links.values()]) closeLink(ctx, link)
  if (l.socket !== undefined) ctx.tracker?.close(l.socket)
  l.socket = undefined
}

/** Asks `peer` for chunk `index`; false when not connected to it in this swarm. */
export function request(ctx: SimContext, l: SimListener, entry: SwarmEntry, peer: number, index: number): boolean {
  if (!entry.peers.has(peer)) return false
  const other = ctx.listeners.get(peer)
  if (!other) return false
  ctx.q.after(other.net.peerOneWayMs, () => serve(ctx, other, l, entry.track, index))
  return true
}

function serve(ctx: SimContext, uploader: SimListener, to: SimListener, track: number, index: number): void {
  const c = uploader.client
  const entry = c?.swarms.get(track)
  if (!c || !entry?.peers.has(to.index)) return
  const back = (fn: (e: SwarmEntry) => void) =>
    ctx.q.after(to.net.peerOneWayMs, () => {
      const e = to.client?.swarms.get(track)
      if (e?.peers.has(uploader.index)) fn(e)
    })
  const busy = c.uploading.size >= UPLOAD_SLOTS && !c.uploading.has(to.index)
  if (c.emergencies > 0 || busy || !cacheHas(uploader.cache, track, index)) {
    back((e) => {
      for (const h of e.hooks) h.onReject?.(index, uploader.index)
    })
    return
  }
  c.uploading.set(to.index, (c.uploading.get(to.index) ?? 0) + 1)
  const bytes = ctx.catalog.chunkBytes(track, index)
  const wait = uploader.bucket.take(bytes, ctx.q.now)
  ctx.q.after(wait, () => {
    const n = (c.uploading.get(to.index) ?? 1) - 1
    if (n <= 0) c.uploading.delete(to.index)
    else c.uploading.set(to.index, n)
    c.stats.uploadedBytes += bytes
    const link = c.links.get(to.index)
    if (link) link.lastActivity = ctx.q.now
    ctx.metrics.peer(ctx.q.now, bytes)
    back((e) => {
      for (const h of e.hooks) h.onChunk?.(index, bytes, uploader.index)
    })
  })
}

/** Tells every peer of the swarm that this listener now holds `index` (the SDK's `have`). */
export function announceHave(ctx: SimContext, l: SimListener, track: number, index: number): void {
  const entry = l.client?.swarms.get(track)
  if (!entry) return
  for (const remote of entry.peers) {
    // Applied at once: a have is a few bytes and the peer's delay is small next to a chunk's 1.6 s.
    const e = ctx.listeners.get(remote)?.client?.swarms.get(track)
    if (e?.peers.has(l.index)) for (const h of e.hooks) h.onHave?.(l.index, index)
  }
}

/** An emergency in any playback chokes every peer until it ends (network.ts setUploading). */
export function setUploading(ctx: SimContext, l: SimListener, allowed: boolean): void {
  const c = l.client
  if (!c) return
  const before = c.emergencies
  c.emergencies = Math.max(0, c.emergencies + (allowed ? -1 : 1))
  if ((before === 0) === (c.emergencies === 0)) return
  const choked = c.emergencies > 0
  for (const entry of c.swarms.values()) {
    for (const remote of entry.peers) {
      const other = ctx.listeners.get(remote)
      ctx.q.after(other?.net.peerOneWayMs ?? 0, () => {
        const e = other?.client?.swarms.get(entry.track)
        if (e?.peers.has(l.index)) for (const h of e.hooks) h.onChoke?.(l.index, choked)
      })
    }
  }
}
