import { createHabits } from '../../client-sdk/core.js'
import { type ConnectionRules, DEFAULT_CONNECTION_RULES, DEFAULT_SCHEDULER_CONFIG } from '../../client-sdk/core.js'
import { createTokenBucket } from '../../client-sdk/core.js'
import { seeded } from '../../protocol/index.js'
import { createPopularity } from '../playback/popularity.js'
import { type SessionPlanner, createSessionPlanner, drawNetwork } from '../playback/scenario.js'
import { CACHE_MAX_BYTES, cacheCount, cacheFill, createCache } from './cache.js'
import { CHUNK_BYTES, createSimCatalog } from './catalog.js'
import { type SimContext, hex40 } from './context.js'
import { createEdgeModel } from './edge-model.js'
import { createEventQueue } from './event-queue.js'
import { type Metrics, createMetrics } from './metrics.js'
import { closeNetwork, downloaded, newClientState, onTrackerMessage, release, join, seedsFromCache, tokenAt } from './peer-network.js'
import { renewCachedKeys, retire, startPlay } from './player.js'
import { SIM_DEFAULTS } from './options.js'
import { createTrackerLink } from './tracker-link.js'
import type { SimListener } from './types.js'

/**
 * One simulated world: a population of listeners of which `activity` are online at any moment.
 * Online listeners play sessions made by the playback benchmark's session planner; when one
 * leaves, another listener (new, or one met before with its cache and habits) arrives 2-15 s
 * later, so the number online stays put. The world starts warm: each listener met has a
 * listening history in its cache, and those online at the start are part way into a session
 * (the tracks they played so far in it are in their cache and seeded, as the SDK seeds them).
 */
export interface WorldOptions {
  seed: number
  population: number
  activity: number
  durationMs: number
  warmupMs: number
  tracks: number
  p2p: boolean
  rttMs: number
  rttJitter: number
  peerRttMs: number
  originRttMs: number
  uploadBytesPerSec: number
  downBytesPerSec: number
  connectSuccess: number
  /** What-if variants of the SDK's seeding (see SimContext.seeding); the SDK's own rules by default. */
  seeding?: SimContext['seeding']
  /** What-if variants of the SDK's connection rules and of its scheduler's head (seconds from the edge at a cold start). */
  connections?: Partial<ConnectionRules>
  headSec?: number
  /** Wall ms allowed; past it the world stops where it is. */
  budgetMs: number
  bucketMs?: number
}

export interface WorldResult {
  metrics: Metrics
  online: number
  listenersMet: number
  /** Virtual ms simulated (less than asked when the wall budget ran out). */
  simulatedMs: number
  wallMs: number
  tracker: ReturnType<NonNullable<SimContext['tracker']>['stats']> | undefined
  trackerMessages: number
  /** Sockets the tracker closed by its rules (rate limit, too many swarms): the SDK would reconnect. */
  trackerClosed: number
  edge: SimContext['edge']['counters']
  /** The clients' counters summed over every session, and the sessions. */
  clients: Record<(typeof COUNTED)[number] | 'sessions', number>
  heapMb: number
}

const COUNTED = ['offers', 'answers', 'attempts', 'established', 'failed', 'closedIdle', 'swarmsOnExistingConnections', 'prefetchedBytes', 'prefetchedBytesUnused', 'uploadedBytes'] as const

export function runWorld(o: WorldOptions): WorldResult {
  const random = seeded(o.seed)
  const q = createEventQueue()
  const catalog = createSimCatalog(o.tracks, seeded(o.seed ^ 0xca7a106))
  const popularity = createPopularity(o.tracks)
  const planner: SessionPlanner = createSessionPlanner(random, popularity, catalog.durationMs)
  const metrics = createMetrics(o.bucketMs ?? 10_000, o.warmupMs)
  const seeding = o.seeding ?? { tracks: SIM_DEFAULTS.seedTracks, holderOffers: SIM_DEFAULTS.holderOffers, fromCache: SIM_DEFAULTS.seedFromCache }
  const ctx: SimContext = {
    q,
    random,
    catalog,
    edge: createEdgeModel({ q, catalog, metrics, originRttMs: o.originRttMs }),
    tracker: o.p2p ? createTrackerLink(q, random, seeding.tracks) : undefined,
    metrics,
    listeners: new Map(),
    holders: new Map(),
    p2p: o.p2p,
    connectSuccess: o.connectSuccess,
    scheduler: { ...DEFAULT_SCHEDULER_CONFIG, ...(o.headSec !== undefined && { headSec: o.headSec }), p2p: o.p2p },
    seq: 0,
    seeding,
    connections: { ...DEFAULT_CONNECTION_RULES, ...o.connections },
    answering: new Map(),
  }
  const online = Math.max(1, Math.round(o.population * o.activity))
  const isOnline = new Set<number>()
  /** Listeners whose cached tracks are in ctx.holders: online, their session started. */
  const counted = new Set<number>()
  const adjustHolders = (track: number, by: number) => {
    const n = (ctx.holders.get(track) ?? 0) + by
    if (n > 0) ctx.holders.set(track, n)
    else ctx.holders.delete(track)
  }
  const countHolder = (l: SimListener, on: boolean) => {
    if (on === counted.has(l.index)) return
    if (on) counted.add(l.index)
    else counted.delete(l.index)
    for (const t of l.cache.tracks.keys()) adjustHolders(t, on ? 1 : -1)
  }
  const totals = Object.fromEntries([...COUNTED, 'sessions'].map((k) => [k, 0])) as WorldResult['clients']
  const net = { rttMs: o.rttMs, rttJitter: o.rttJitter, peerRttMs: o.peerRttMs, uploadBytesPerSec: o.uploadBytesPerSec, downBytesPerSec: o.downBytesPerSec, loss: 0 }

  /** A listener as first met: its network, its favourites and a history in its cache. */
  function meet(index: number): SimListener {
    const existing = ctx.listeners.get(index)
    if (existing) return existing
    const own = seeded(o.seed * 1_000_003 + index)
    const profile = drawNetwork(own, net)
    const l: SimListener = {
      index,
      peerId: hex40(index, 'b'),
      net: profile,
      rttMs: profile.rttMs,
      downBytesPerSec: profile.downBytesPerSec,
      downBusyUntil: 0,
      socket: undefined,
      onTracker: (reply) => onTrackerMessage(ctx, l, reply),
      cache: createCache(),
      habits: createHabits(),
      favourites: planner.distinct(6),
      bucket: createTokenBucket(profile.uploadBytesPerSec),
      client: undefined,
      sessions: 0,
      leases: new Map(),
    }
    l.cache.onStore = (bytes) => downloaded(ctx, l, bytes)
    l.cache.onTrack = (track, held) => {
      if (counted.has(index)) adjustHolders(track, held ? 1 : -1)
    }
    // A history as long as the SDK's default cache holds (about 57 tracks): a listener met has
    // used the app for a while, and the cache is full. Favourites last: the most recently played.
    const bytesOf = (t: number) => catalog.chunks(t) * CHUNK_BYTES
    const room = CACHE_MAX_BYTES - l.favourites.reduce((n, t) => n + bytesOf(t), 0)
    for (let t = popularity.sample(random); l.cache.bytes + bytesOf(t) <= room; t = popularity.sample(random)) {
      cacheFill(l.cache, t, catalog.chunks(t))
      ctx.edge.prewarm(t)
    }
    for (const t of l.favourites) {
      cacheFill(l.cache, t, catalog.chunks(t))
      ctx.edge.prewarm(t)
    }
    // They have played their favourites in this order before: what the habits core learns.
    for (let round = 0; round < 2; round++)
      l.favourites.forEach((t, i) => {
        l.habits.record(String(t), String(l.favourites[(i + 1) % l.favourites.length]!))
      })
    ctx.listeners.set(index, l)
    return l
  }

  function pickOffline(): number {
    for (;;) {
      const i = Math.floor(random() * o.population)
      if (!isOnline.has(i)) return i
    }
  }

  function startSession(index: number, warm: boolean): void {
    const l = meet(index)
    isOnline.add(index)
    countHolder(l, true)
    // Every listener has a history here: none is on its first session.
    const session = planner.session(l.favourites, false)
    l.sessions++
    totals.sessions++
    const c = newClientState(session.plays, ctx.connections)
    l.client = c
    // The SDK asks for its session as it is created.
    c.sessionAskedAt = q.now
    tokenAt(ctx, l)
    // Once the session's token is there (the first play's key rode in its request).
    q.at(tokenAt(ctx, l), () => {
      if (l.client === c && !c.closed) renewCachedKeys(ctx, l)
    })
    // As the SDK's client starts: the most recent tracks its cache holds whole are seeded.
    if (ctx.p2p && ctx.seeding.fromCache > 0) {
      for (const t of seedsFromCache(ctx, l)) {
        join(ctx, l, t, () => Math.max(0, catalog.chunks(t) - cacheCount(l.cache, t)) * CHUNK_BYTES)
        release(ctx, l, t)
      }
    }
    // Part way into a session: the plays before this one are in the cache and seeded.
    if (warm) {
      const done = Math.floor(random() * Math.min(6, session.plays.length))
      for (let k = 0; k < done; k++) {
        const p = session.plays[k]!
        const chunks = catalog.chunks(p.rank)
        const heard = p.listenMs === null ? chunks : Math.ceil((p.listenMs + ctx.scheduler.lookaheadSec * 1000) / (catalog.durationMs(p.rank) / chunks))
        cacheFill(l.cache, p.rank, chunks, heard)
        if (ctx.p2p) {
          join(ctx, l, p.rank, () => 0)
          release(ctx, l, p.rank)
        }
        if (c.lastTrack !== undefined) l.habits.record(String(c.lastTrack), String(p.rank))
        c.lastTrack = p.rank
      }
      c.next = done
    }
    const playNext = () => {
      if (c.closed) return
      const planned = c.plays[c.next++]
      if (!planned) return endSession(l)
      startPlay(ctx, l, planned, () => q.after(0, playNext))
    }
    q.after(warm ? random() * 20_000 : 0, playNext)
  }

  function endSession(l: SimListener): void {
    const c = l.client!
    c.current?.stop('cut')
    for (const p of c.prefetched.values()) if (p) retire(c, p, false)
    c.prefetched.clear()
    closeNetwork(ctx, l)
    c.closed = true
    for (const k of COUNTED) totals[k] += c.stats[k]
    l.client = undefined
    isOnline.delete(l.index)
    countHolder(l, false)
    q.after(2_000 + random() * 13_000, () => startSession(pickOffline(), false))
  }

  // Everyone online at the start, spread over the first seconds.
  for (let k = 0; k < online; k++) {
    const index = pickOffline()
    isOnline.add(index)
    q.after(random() * 5_000, () => startSession(index, true))
  }
  const sampleOnline = () => {
    metrics.online(q.now, isOnline.size)
    q.after(metrics.bucketMs, sampleOnline)
  }
  sampleOnline()

  const wallStart = performance.now()
  let simulatedMs = 0
  const step = 10_000
  for (let t = step; t <= o.durationMs; t += step) {
    q.run(t, () => performance.now() - wallStart > o.budgetMs)
    simulatedMs = q.now
    if (performance.now() - wallStart > o.budgetMs) break
  }
  // The sessions still open count as they stand.
  for (const l of ctx.listeners.values())
    if (l.client) {
      l.client.current?.stop('cut')
      for (const k of COUNTED) totals[k] += l.client.stats[k]
      for (const p of l.client.prefetched.values()) if (p) totals.prefetchedBytes += p.bytes
    }
  return {
    metrics,
    online,
    listenersMet: ctx.listeners.size,
    simulatedMs,
    wallMs: performance.now() - wallStart,
    tracker: ctx.tracker?.stats(),
    trackerMessages: ctx.tracker?.counters.messages ?? 0,
    trackerClosed: ctx.tracker?.counters.closedByTracker ?? 0,
    edge: ctx.edge.counters,
    clients: totals,
    heapMb: Math.round(process.memoryUsage().heapUsed / 1e6),
  }
}
