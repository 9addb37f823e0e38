import { cacheHas, cacheHeld } from './cache.js'
import { type SimContext, hex40 } from './context.js'
import type { ClientState, SimListener, SwarmEntry } from './types.js'

/**
 * A listener's place in the peer network, under virtual time: the rules of the SDK's
 * p2p/network.ts and p2p/peer-set.ts (which are adapters, not pure cores, so they are restated
 * here): 5 offers per announce, at most 10 pending per swarm, dropped after 20 s; a swarm with
 * fewer than 3 peers announces again after 4-6 s, otherwise at the tracker's interval; 50
 * connections (60 counting those being set up); 4 upload slots under a token bucket; a listener
 * in an emergency chokes everyone. Offers and answers go through the tracker's core; a
 * connection comes up two peer round trips after the answer (ICE and DTLS), or fails
 * (`connectSuccess`), which the SDK learns after ICE gives up (10 s).
 */
const OFFERS_PER_ANNOUNCE = 5
const MAX_CONNECTIONS = 50
const HARD_MAX = 60
const UPLOAD_SLOTS = 4
const PENDING_TTL_MS = 20_000
const ICE_FAILURE_MS = 10_000
const ANSWER_TIMEOUT_MS = 15_000

export function newClientState(plays: ClientState['plays']): ClientState {
  return {
    closed: false,
    tokenAt: undefined,
    trackerOpenAt: Number.POSITIVE_INFINITY,
    keys: new Map(),
    swarms: new Map(),
    connections: 0,
    connecting: 0,
    uploading: new Map(),
    emergencies: 0,
    seeding: [],
    prefetched: new Map(),
    upcoming: [],
    current: undefined,
    lastTrack: undefined,
    stats: { plays: 0, prefetchedPlays: 0, prefetchedBytes: 0, prefetchedBytesUnused: 0, attempts: 0, established: 0, failed: 0, uploadedBytes: 0 },
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

function announce(ctx: SimContext, l: SimListener, entry: SwarmEntry, event?: 'started' | 'stopped'): void {
  const c = l.client
  if (!c || !ctx.tracker) return
  if (entry.closed && event !== 'stopped') return
  if (ctx.q.now < c.trackerOpenAt) {
    // Not connected yet: the SDK announces every swarm as the socket opens.
    if (event !== 'stopped') ctx.q.at(c.trackerOpenAt, () => announce(ctx, l, entry, 'started'))
    return
  }
  const room = Math.max(0, Math.min(MAX_CONNECTIONS - c.connections, HARD_MAX - c.connections - c.connecting))
  const holding = !ctx.seeding.holderOffers && entry.left() === 0
  const want = event === 'stopped' || holding ? 0 : Math.min(OFFERS_PER_ANNOUNCE, room)
  for (const [id, at] of entry.pending) if (ctx.q.now - at > PENDING_TTL_MS) entry.pending.delete(id)
  const offers: Array<{ offer: { type: 'offer'; sdp: string }; offer_id: string }> = []
  if (want > 0 && entry.pending.size < OFFERS_PER_ANNOUNCE * 2) {
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

function scheduleAnnounce(ctx: SimContext, l: SimListener, entry: SwarmEntry, seconds: number): void {
  const timer = ++entry.timer
  const holding = !ctx.seeding.holderOffers && entry.left() === 0
  const wait = entry.peers.size < 3 && !holding ? Math.min(seconds, 4 + ctx.random() * 2) : seconds
  ctx.q.after(wait * 1000, () => {
    if (entry.timer === timer && !entry.closed && l.client?.swarms.get(entry.track) === entry) announce(ctx, l, entry)
  })
}

/** A frame from the tracker (an announce reply, a relayed offer or answer). */
export function onTrackerMessage(ctx: SimContext, l: SimListener, reply: Record<string, unknown>): void {
  const c = l.client
  if (!c || c.closed || typeof reply.info_hash !== 'string') return
  const track = Number.parseInt(reply.info_hash.slice(1), 16)
  const entry = c.swarms.get(track)
  if (!entry || entry.closed) return
  if (typeof reply.interval === 'number') {
    scheduleAnnounce(ctx, l, entry, Math.max(5, Math.min(120, reply.interval)))
    return
  }
  const remote = typeof reply.peer_id === 'string' ? Number.parseInt(reply.peer_id.slice(1), 16) : -1
  const other = ctx.listeners.get(remote)
  if (!other) return
  if (reply.offer !== undefined && typeof reply.offer_id === 'string') {
    if (remote === l.index || entry.peers.has(remote) || c.connections + c.connecting >= HARD_MAX) return
    // Answer it: the answer goes back through the tracker; the offerer then connects.
    c.connecting++
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
    if (!answerer || answerer.attempt.settled || entry.peers.has(remote)) return
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
      // Either end may have left, or filled up, meanwhile: then the connection is dropped at once.
      const usable = (cs: ClientState, e: SwarmEntry | undefined, peer: number): e is SwarmEntry => !cs.closed && e !== undefined && !e.closed && !e.peers.has(peer) && cs.connections < HARD_MAX
      if (l.client !== c || other.client !== b || !usable(c, entry, remote) || !usable(b, otherEntry, l.index)) return
      connect(ctx, l, entry, other)
      connect(ctx, other, otherEntry, l)
    })
  }
}

function connect(ctx: SimContext, l: SimListener, entry: SwarmEntry, other: SimListener): void {
  const c = l.client!
  c.stats.established++
  c.connections++
  entry.peers.add(other.index)
  // Each end greets with its bitfield; it arrives after the receiving end's delay.
  const holds = cacheHeld(other.cache, entry.track)
  ctx.q.after(l.net.peerOneWayMs, () => {
    if (!entry.peers.has(other.index)) return
    for (const h of entry.hooks) h.onPeer?.(other.index, holds)
    if (other.client && other.client.emergencies > 0) for (const h of entry.hooks) h.onChoke?.(other.index, true)
  })
}

function disconnect(ctx: SimContext, l: SimListener, entry: SwarmEntry, remote: number): void {
  if (!entry.peers.delete(remote)) return
  l.client!.connections--
  for (const h of entry.hooks) h.onPeerGone?.(remote)
  const other = ctx.listeners.get(remote)
  const otherEntry = other?.client?.swarms.get(entry.track)
  if (other && otherEntry?.peers.delete(l.index)) {
    other.client!.connections--
    for (const h of otherEntry.hooks) h.onPeerGone?.(l.index)
  }
}

/** Joins (or returns) the swarm of `track`; its announces start once the token and the tracker socket are there. */
export function join(ctx: SimContext, l: SimListener, track: number, left: () => number): SwarmEntry {
  const c = l.client!
  const existing = c.swarms.get(track)
  if (existing && !existing.closed) return existing
  const entry: SwarmEntry = { track, infoHash: hex40(track, 'c'), closed: false, pending: new Map(), peers: new Set(), hooks: new Set(), timer: 0, left }
  c.swarms.set(track, entry)
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

function leave(ctx: SimContext, l: SimListener, track: number): void {
  const c = l.client
  const entry = c?.swarms.get(track)
  if (!c || !entry) return
  announce(ctx, l, entry, 'stopped')
  entry.closed = true
  entry.pending.clear()
  for (const remote of [...entry.peers]) disconnect(ctx, l, entry, remote)
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
    if (e) for (const h of e.hooks) h.onHave?.(l.index, index)
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
