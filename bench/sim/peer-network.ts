import {
  type ConnectionRules,
  DEFAULT_OFFER_ADMISSION,
  DEFAULT_RATIO_CHOKE,
  DEFAULT_SEEDING_RULES,
  DEFAULT_SWARM_RULES,
  DEFAULT_UPLOAD_ADMISSION,
  DEFAULT_UPLOAD_BUDGET,
  announceInterval,
  announceOnLinks,
  answerUseful,
  chokeForRatio,
  coversSwarm,
  createOfferAdmission,
  createOfferBudget,
  createUploadAdmission,
  createUploadBudget,
  idleConnection,
  idleSweepMs,
  nextAnnounce,
  offerExpired,
  offerOnReply,
  offerRoom,
  offersToMake,
  peerLimitPausedUntil,
  pickCacheSeeds,
  releaseSeed,
  unchokeAfterRatio,
  underHardCap,
} from '../../client-sdk/core.js'
import { cacheCount, cacheHas, cacheHeld } from './cache.js'
import { type SimContext, hex40 } from './context.js'
import type { AnswerAttempt, AnswerJob, ClientState, SimLink, SimListener, SwarmEntry, SwarmHooks } from './types.js'

/**
 * A listener's place in the peer network, under virtual time, run by the SDK's own rules with
 * their defaults, called as p2p/network.ts, p2p/answers.ts, p2p/uploads.ts and client.ts call
 * them: when to offer (a new RTCPeerConnection), the client's offer budget, whether a swarm is
 * told to connected peers and when a connection is idle (core/peer-connections.ts); the caps,
 * when to announce again, offers given up, the pause after peer_limit and which offers are worth
 * answering (core/swarm-rules.ts); which relayed offers are answered (core/offer-admission.ts);
 * which requests are served, within the upload ratio, and the chokes for it
 * (core/upload-admission.ts, core/upload-budget.ts); which swarms stay seeded (core/seeding.ts).
 * One connection per remote listener carries every swarm both take part in (p2p/peer-wire.ts:
 * `swarm`, `leave`), and a swarm joined to fetch is asked of connected peers before any offer.
 * Offers and answers go through the tracker's core. What remains here is the adapters' plumbing
 * (timers, which end hears what when) and the models: a connection comes up two peer round trips
 * after the answer, or fails (`connectSuccess`), which the SDK learns after ICE gives up (10 s);
 * a message between peers takes the receiving end's one-way delay; a chunk goes out whole, paced
 * by the listener's upload bandwidth (the SDK's token bucket), not fragment by fragment.
 */
const SWARM = DEFAULT_SWARM_RULES
const ICE_FAILURE_MS = 10_000
/** p2p/answers.ts: the offer admission's queue is looked at no sooner than this. */
const ANSWER_RETRY_MIN_MS = 50

export function newClientState(plays: ClientState['plays'], rules: ConnectionRules): ClientState {
  const uploadBudget = createUploadBudget(DEFAULT_UPLOAD_BUDGET)
  return {
    closed: false,
    tokenAt: undefined,
    trackerOpenAt: Number.POSITIVE_INFINITY,
    keys: new Map(),
    swarms: new Map(),
    links: new Map(),
    connecting: 0,
    budget: createOfferBudget(rules),
    offersPausedUntil: 0,
    sweeping: false,
    uploads: createUploadAdmission(DEFAULT_UPLOAD_ADMISSION, uploadBudget),
    uploadBudget,
    ratioChoked: new Map(),
    unchokeCheck: false,
    answers: createOfferAdmission<AnswerJob>(DEFAULT_OFFER_ADMISSION),
    answerAttempts: new Map(),
    answersRetry: false,
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

/** The session token: asked once per client (as it is created), of the key service at the edge's location. */
export function tokenAt(ctx: SimContext, l: SimListener): number {
  const c = l.client!
  c.tokenAt ??= ctx.edge.keyService(l)
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
    if (coversSwarm({ has, lacking })) n++
  }
  return n
}

/** How many offers the swarm's next announce carries: the SDK's core, told what network.ts tells it. */
function offerDecision(ctx: SimContext, l: SimListener, entry: SwarmEntry) {
  const c = l.client!
  const now = ctx.q.now
  for (const [id, at] of entry.pending) if (offerExpired(at, now, SWARM)) entry.pending.delete(id)
  return offersToMake(
    {
      now,
      left: leftForOffers(ctx, entry),
      others: entry.others,
      peers: entry.peers.size,
      usefulPeers: usefulPeers(ctx, l, entry),
      pending: entry.pending.size,
      room: offerRoom({ open: c.links.size, connecting: c.connecting }, SWARM),
      paused: now < c.offersPausedUntil,
      askedUntil: entry.askedUntil,
      budget: c.budget.available(now),
    },
    ctx.connections,
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

/** network.ts scheduleAnnounce: when the swarm announces next (core/swarm-rules.ts nextAnnounce). */
function scheduleAnnounce(ctx: SimContext, l: SimListener, entry: SwarmEntry, seconds: number): void {
  const timer = ++entry.timer
  const next = nextAnnounce(
    { left: leftForOffers(ctx, entry), usefulPeers: () => usefulPeers(ctx, l, entry), peers: entry.peers.size, others: entry.others, lonely: entry.lonely, intervalSec: seconds },
    ctx.random,
    { ...SWARM, enoughPeers: ctx.connections.enoughPeers },
  )
  entry.lonely = next.lonely
  ctx.q.after(next.waitSec * 1000, () => {
    if (entry.timer === timer && !entry.closed && l.client?.swarms.get(entry.track) === entry) announce(ctx, l, entry)
  })
}

/** A frame from the tracker (an announce reply, a warning, a relayed offer or answer). */
export function onTrackerMessage(ctx: SimContext, l: SimListener, reply: Record<string, unknown>): void {
  const c = l.client
  if (!c || c.closed || typeof reply.info_hash !== 'string') return
  if (reply.warning_code === 'peer_limit') {
    // Offers made now would only time out unanswered: none for a while, and the pending ones go.
    c.offersPausedUntil = peerLimitPausedUntil(ctx.q.now, SWARM)
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
    if (offerOnReply({ first, others: entry.others, left: leftForOffers(ctx, entry) })) offerIfNeeded(ctx, l, entry)
    scheduleAnnounce(ctx, l, entry, announceInterval(reply.interval, SWARM))
    return
  }
  const remote = typeof reply.peer_id === 'string' ? Number.parseInt(reply.peer_id.slice(1), 16) : -1
  const other = ctx.listeners.get(remote)
  if (!other) return
  if (reply.offer !== undefined && typeof reply.offer_id === 'string') {
    // network.ts onOffer: none for a peer met already, or without room; the rest as the offer admission core says.
    if (remote === l.index || entry.peers.has(remote) || c.links.has(remote) || !underHardCap({ open: c.links.size, connecting: c.connecting }, SWARM)) return
    const job: AnswerJob = { track, remote, offerId: reply.offer_id }
    const useful = answerUseful({ left: entry.left(), uploads: true, peers: entry.peers.size, holdsChunks: cacheCount(l.cache, track) > 0 }, SWARM)
    // Every RTCPeerConnection has a certificate of its own: a fingerprint would never repeat, so none is given.
    const d = c.answers.consider({ swarm: entry.infoHash, remote: other.peerId, fingerprint: '', peerSetSize: entry.peers.size, useful, sane: true, payload: job }, ctx.q.now)
    if (d.type === 'answer') {
      if (d.replaces !== undefined) giveUpAnswer(ctx, c, d.replaces)
      answerOffer(ctx, l, job, d.id)
    } else if (d.type === 'queued') scheduleAnswers(ctx, l)
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
      // The answerer may have given the attempt up meanwhile (its timeout, or its place taken): its end is gone.
      const up = ok && !answerer.attempt.settled
      if (!c.closed) {
        c.connecting--
        if (!up) c.stats.failed++
      }
      if (settleAnswer(ctx, b, answerer.attempt, ok) && other.client === b) drainAnswers(ctx, other)
      if (!up) return
      const otherEntry = b.swarms.get(track)
      // network.ts connected(): either end may have left the swarm, met the other meanwhile, or filled up: then the connection is refused (bye).
      const usable = (cs: ClientState, e: SwarmEntry | undefined, peer: number): e is SwarmEntry =>
        !cs.closed && e !== undefined && !e.closed && !e.peers.has(peer) && !cs.links.has(peer) && underHardCap({ open: cs.links.size, connecting: 0 }, SWARM)
      if (l.client !== c || other.client !== b || !usable(c, entry, remote) || !usable(b, otherEntry, l.index)) return
      connected(ctx, l, other, track)
    })
  }
}

/** p2p/answers.ts answer(): a new RTCPeerConnection answers the offer; the answer goes back through the tracker, and the offerer then connects. */
function answerOffer(ctx: SimContext, l: SimListener, job: AnswerJob, id: number): void {
  const c = l.client!
  const entry = c.swarms.get(job.track)!
  const other = ctx.listeners.get(job.remote)!
  c.connecting++
  c.stats.answers++
  c.stats.attempts++
  const attempt: AnswerAttempt = { id, settled: false }
  c.answerAttempts.set(id, attempt)
  ctx.tracker!.send(l, { action: 'announce', info_hash: entry.infoHash, peer_id: l.peerId, to_peer_id: other.peerId, answer: { type: 'answer', sdp: 'v=0' }, offer_id: job.offerId })
  ctx.answering.set(job.offerId, { client: c, attempt })
  ctx.q.after(SWARM.answerTimeoutMs, () => {
    ctx.answering.delete(job.offerId)
    if (settleAnswer(ctx, c, attempt, false) && l.client === c) drainAnswers(ctx, l)
  })
}

/** The answered connection came up, failed, or timed out (p2p/answers.ts onSettled); false when it had settled already. */
function settleAnswer(ctx: SimContext, c: ClientState, attempt: AnswerAttempt, ok: boolean): boolean {
  if (attempt.settled) return false
  attempt.settled = true
  c.answerAttempts.delete(attempt.id)
  if (c.closed) return false
  c.connecting--
  if (!ok) c.stats.failed++
  c.answers.settled(attempt.id, ok, ctx.q.now)
  return true
}

/** The core gave an attempt's place to a new offer: the SDK destroys its RTCPeerConnection, which settles it as failed. */
function giveUpAnswer(ctx: SimContext, c: ClientState, id: number): void {
  const attempt = c.answerAttempts.get(id)
  if (attempt) settleAnswer(ctx, c, attempt, false)
}

/** p2p/answers.ts drain(): answers the best waiting offers there is room for now, then looks again when the core says. */
function drainAnswers(ctx: SimContext, l: SimListener): void {
  const c = l.client
  if (!c || c.closed) return
  const wanted = (job: AnswerJob) => {
    const e = c.swarms.get(job.track)
    return e !== undefined && !e.closed && !e.peers.has(job.remote) && !c.links.has(job.remote) && underHardCap({ open: c.links.size, connecting: c.connecting }, SWARM)
  }
  for (const a of c.answers.next(ctx.q.now, (w) => wanted(w.payload))) {
    if (a.replaces !== undefined) giveUpAnswer(ctx, c, a.replaces)
    answerOffer(ctx, l, a.payload, a.id)
  }
  scheduleAnswers(ctx, l)
}

function scheduleAnswers(ctx: SimContext, l: SimListener): void {
  const c = l.client!
  if (c.answersRetry || c.closed) return
  const wait = c.answers.retryInMs(ctx.q.now)
  if (wait === undefined) return
  c.answersRetry = true
  ctx.q.after(Math.max(ANSWER_RETRY_MIN_MS, wait), () => {
    if (l.client !== c) return
    c.answersRetry = false
    drainAnswers(ctx, l)
  })
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
  dropPeer(ctx, l, track, other.index)
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

function dropPeer(ctx: SimContext, l: SimListener, track: number, remote: number): void {
  const c = l.client
  const entry = c?.swarms.get(track)
  if (!c || !entry?.peers.delete(remote)) return
  for (const h of entry.hooks) h.onPeerGone?.(remote)
  // p2p/uploads.ts gone(): the link's queue goes; a chunk being sent stops (sendNext).
  const key = linkKey(track, remote)
  c.uploads.dropPeer(key, ctx.q.now)
  c.ratioChoked.delete(key)
}

/** The connection ends (bye): every swarm on it closes at both ends. */
function closeLink(ctx: SimContext, link: SimLink): void {
  if (link.closed) return
  link.closed = true
  for (const s of [0, 1] as const) {
    const l = ctx.listeners.get(link.ends[s])!
    const remote = link.ends[1 - s]!
    if (l.client?.links.get(remote) === link) l.client.links.delete(remote)
    for (const track of link.said[s]) dropPeer(ctx, l, track, remote)
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
      if (idleConnection({ fetching, lastActivity: link.lastActivity }, ctx.q.now, ctx.connections)) {
        c.stats.closedIdle++
        closeLink(ctx, link)
      }
    }
    if (c.links.size > 0) ctx.q.after(idleSweepMs(ctx.connections), sweep)
    else c.sweeping = false
  }
  ctx.q.after(idleSweepMs(ctx.connections), sweep)
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
  if (fetching && asked > 0) entry.askedUntil = ctx.q.now + ctx.connections.askMs
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
  for (const remote of [...entry.peers]) dropPeer(ctx, l, track, remote)
  entry.hooks.clear()
  c.swarms.delete(track)
}

/** Swarms served with nothing playing in them: ended playbacks and cached tracks, the most recent few (client.ts `release`, core/seeding.ts). */
export function release(ctx: SimContext, l: SimListener, track: number): void {
  const c = l.client!
  const r = releaseSeed(c.seeding, track, true, { swarms: ctx.seeding.tracks })
  c.seeding = r.seeding
  // r.dropJoin needs nothing here: a swarm is one entry however often it was joined (the sim counts no joins).
  for (const t of r.evicted) leave(ctx, l, t)
}

/** client.ts seedFromCache: the whole cached tracks a new session seeds, in the order it joins them (core/seeding.ts). */
export function seedsFromCache(ctx: SimContext, l: SimListener): number[] {
  const pick = pickCacheSeeds<number>({ ...DEFAULT_SEEDING_RULES, fromCache: ctx.seeding.fromCache })
  // The cache's tracks, least recently used first: looked at from the most recent.
  const tracks = [...l.cache.tracks.keys()]
  for (let i = tracks.length - 1; i >= Math.max(0, tracks.length - pick.candidates) && pick.wanted(); i--) {
    const t = tracks[i]!
    pick.consider(t, cacheCount(l.cache, t) >= ctx.catalog.chunks(t))
  }
  return pick.joinOrder()
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

/** The uploads' key for one remote in one swarm (the SDK's `${infoHash} ${peer}`). */
const linkKey = (track: number, remote: number) => `${track} ${remote}`

/** Something from `from` to `to` in `track`'s swarm, there after `to`'s one-way delay if they are still peers there. */
function toPeer(ctx: SimContext, from: SimListener, to: SimListener, track: number, fn: (h: SwarmHooks) => void): void {
  ctx.q.after(to.net.peerOneWayMs, () => {
    const e = to.client?.swarms.get(track)
    if (e?.peers.has(from.index)) for (const h of e.hooks) fn(h)
  })
}

/** p2p/uploads.ts request(): the upload admission core queues the request or refuses it (a reject, and a choke for the ratio rule). */
function serve(ctx: SimContext, uploader: SimListener, to: SimListener, track: number, index: number): void {
  const c = uploader.client
  const entry = c?.swarms.get(track)
  if (!c || !entry?.peers.has(to.index)) return
  const key = linkKey(track, to.index)
  const d = c.uploads.request(key, index, { uploads: true, emergency: c.emergencies > 0, holds: cacheHas(uploader.cache, track, index), length: ctx.catalog.chunkBytes(track, index), now: ctx.q.now })
  if (d.type === 'queued') sendNext(ctx, uploader, to, track)
  else if (d.type === 'refused') {
    toPeer(ctx, uploader, to, track, (h) => h.onReject?.(index, uploader.index))
    if (d.reason === 'ratio') chokeRatioRefused(ctx, uploader, to, track)
  } else if (d.type === 'violation') {
    // network.ts bans it: its connection closes, with every swarm on it.
    const link = c.links.get(to.index)
    if (link) closeLink(ctx, link)
  }
}

/** p2p/uploads.ts pump(): a link's accepted requests go out one chunk at a time, paced by the upload bandwidth (the token bucket). */
function sendNext(ctx: SimContext, uploader: SimListener, to: SimListener, track: number): void {
  const c = uploader.client!
  const key = linkKey(track, to.index)
  const item = c.uploads.next(key)
  if (!item) return
  const wait = uploader.bucket.take(item.length, ctx.q.now)
  ctx.q.after(wait, () => {
    if (uploader.client !== c) return
    // The peer gone meanwhile stopped the chunk: none of it counts.
    const sent = c.swarms.get(track)?.peers.has(to.index) ? item.length : 0
    c.uploads.finished(key, item.index, sent, ctx.q.now)
    if (sent > 0) {
      c.stats.uploadedBytes += sent
      const link = c.links.get(to.index)
      if (link) link.lastActivity = ctx.q.now
      ctx.metrics.peer(ctx.q.now, sent)
      toPeer(ctx, uploader, to, track, (h) => h.onChunk?.(item.index, sent, uploader.index))
    }
    sendNext(ctx, uploader, to, track)
  })
}

/** p2p/uploads.ts: a peer refused for the ratio rule is choked until the budget is back (looked at every few seconds, and as downloads come in). */
function chokeRatioRefused(ctx: SimContext, uploader: SimListener, to: SimListener, track: number): void {
  const c = uploader.client!
  const key = linkKey(track, to.index)
  if (!chokeForRatio(c.ratioChoked.get(key)?.at, ctx.q.now, DEFAULT_RATIO_CHOKE)) return
  c.ratioChoked.set(key, { remote: to.index, track, at: ctx.q.now })
  toPeer(ctx, uploader, to, track, (h) => h.onChoke?.(uploader.index, true))
  if (c.unchokeCheck) return
  c.unchokeCheck = true
  const check = () => {
    if (uploader.client !== c || c.closed) return
    if (unchokeIfAble(ctx, uploader)) c.unchokeCheck = false
    else ctx.q.after(DEFAULT_RATIO_CHOKE.checkMs, check)
  }
  ctx.q.after(DEFAULT_RATIO_CHOKE.checkMs, check)
}

function unchokeIfAble(ctx: SimContext, l: SimListener): boolean {
  const c = l.client!
  if (!unchokeAfterRatio({ emergency: c.emergencies > 0, available: c.uploadBudget.available(ctx.q.now) }, DEFAULT_RATIO_CHOKE)) return false
  for (const { remote, track } of c.ratioChoked.values()) {
    const other = ctx.listeners.get(remote)
    if (other && c.links.has(remote)) toPeer(ctx, l, other, track, (h) => h.onChoke?.(l.index, false))
  }
  c.ratioChoked.clear()
  return true
}

/** A chunk came in from the edge or a peer: it raises what this listener may upload (client.ts onChunkBytes, peer-set.ts received). */
export function downloaded(ctx: SimContext, l: SimListener, bytes: number): void {
  const c = l.client
  if (!c || c.closed) return
  c.uploadBudget.downloaded(bytes, ctx.q.now)
  if (c.ratioChoked.size > 0) unchokeIfAble(ctx, l)
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
