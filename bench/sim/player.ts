import { type Action, createScheduler } from '../../client-sdk/core.js'
import { createSpeaker } from '../../client-sdk/core.js'
import type { PlannedPlay } from '../playback/scenario.js'
import { cacheCount, cacheHas, cacheHeld, cachePut, cacheTouch } from './cache.js'
import { CHUNK_BYTES } from './catalog.js'
import type { SimContext } from './context.js'
import type { SimPlay } from './metrics.js'
import { announceHave, join, release, request, setUploading, tokenAt } from './peer-network.js'
import type { Prefetch, SimListener, SwarmEntry, SwarmHooks } from './types.js'

/**
 * One play, as the SDK's playback.ts and client.ts carry it out, under virtual time: the
 * scheduler core decides where each chunk comes from, the speaker core moves the playhead and
 * counts stalls, exactly as in the player. What is restated here (from the adapters) is the
 * path to the first audio: the session token is asked as the client is created; a play asks
 * for the manifest from the edge and, alongside it, the current key through the edge to the
 * origin (once the token is there; a key already held is not asked again); the first chunk is
 * played once both it and the key are there, plus LOCAL_MS to read, verify and decrypt. Prefetch follows
 * client.ts: 30 s before the end the next tracks' heads are asked from peers, at 10 s what is
 * missing comes from the edge.
 */
const TICK_MS = 1000
const LOCAL_MS = 2
const PREFETCH_TRACKS = 3
const PREFETCH_BUDGET = 4 * 1024 * 1024

/** When the key of `track` is at the client: held already, or asked now (after the token) through the edge to the origin. */
function keyAt(ctx: SimContext, l: SimListener, track: number): number {
  const c = l.client!
  const held = c.keys.get(track)
  if (held !== undefined) return held
  const at = ctx.edge.passThrough(l, Math.max(ctx.q.now, tokenAt(ctx, l)))
  c.keys.set(track, at)
  return at
}

export function startPlay(ctx: SimContext, l: SimListener, planned: PlannedPlay, onDone: () => void): void {
  const c = l.client!
  const { q, catalog } = ctx
  const track = planned.rank
  const layout = catalog.layout(track)
  const t0 = q.now
  const pre = c.prefetched.get(track) ?? undefined
  c.prefetched.delete(track)
  // Not prefetched: the key is asked alongside the manifest.
  const earlyKeyAt = pre ? undefined : keyAt(ctx, l, track)
  c.upcoming = planned.upcoming.filter((t) => t !== track)
  retireStale(l)
  const bytes = { cache: 0, peer: 0, edge: 0 }
  let firstPeerAt: number | null = null
  let ttfa: number | null = null
  let kind: SimPlay['kind'] = null
  let stopped = false
  let outcome: SimPlay['outcome'] = 'cut'
  const scheduler = createScheduler(layout, ctx.scheduler)
  const speaker = createSpeaker({ startMs: 0, durationMs: layout.durationMs, speed: 1 })
  let next = 0
  let keyReadyAt = Number.POSITIVE_INFINITY
  let entry: SwarmEntry | undefined
  let hooks: SwarmHooks | undefined
  const fromCache = new Set<number>()

  const state = {
    track,
    planned,
    t0,
    get started() {
      return ttfa !== null
    },
    positionMs: () => speaker.state().positionMs,
    stop: (o: 'skipped' | 'cut') => shutdown(o),
  }
  c.current = state

  const deliveredUntil = () => (next >= layout.count ? layout.durationMs : layout.startMs(next))

  function runSpeaker(): void {
    for (const e of speaker.update(q.now, deliveredUntil())) if (e.type === 'end') q.after(0, () => shutdown('ended'))
    scheduler.setPlayhead(speaker.state().positionMs)
  }

  function deliver(): void {
    if (stopped || q.now < keyReadyAt) return
    const before = next
    while (next < layout.count && scheduler.has(next)) {
      if (fromCache.has(next)) {
        bytes.cache += layout.size(next)
        ctx.metrics.cache(q.now, layout.size(next))
      }
      next++
    }
    if (ttfa === null && next > before) {
      // The first chunk is decrypted: audio starts LOCAL_MS later.
      ttfa = q.now + LOCAL_MS - t0
      kind = wasPrefetched ? 'prefetched' : fromCache.has(before) ? 'cached' : 'cold'
    }
    runSpeaker()
  }

  function arrived(index: number, source: 'edge' | 'peer', size: number): void {
    if (stopped || scheduler.has(index)) return
    runSpeaker()
    bytes[source] += size
    if (source === 'peer' && firstPeerAt === null) firstPeerAt = q.now
    scheduler.received(index, source, q.now)
    cachePut(l.cache, track, index, layout.count)
    announceHave(ctx, l, track, index)
    deliver()
    pump()
  }

  function perform(actions: Action[]): void {
    for (const a of actions) {
      if (a.type === 'fetch-edge') {
        const index = a.index
        const purpose = layout.startMs(index) < ctx.scheduler.headSec * 1000 ? 'head' : scheduler.peerIds().some((p) => scheduler.peerHolds(p, index)) ? 'urgent' : 'noPeer'
        q.at(ctx.edge.chunk(l, track, index, purpose), () => arrived(index, 'edge', layout.size(index)))
      } else if (a.type === 'request-peer') {
        if (!entry || !request(ctx, l, entry, Number(a.peer), a.index)) scheduler.failed(a.index)
      } else if (a.type === 'uploading') setUploading(ctx, l, a.allowed)
      // cancel-peer: the SDK sends a cancel its peers ignore; nothing to do here either.
    }
  }

  function pump(): void {
    if (stopped) return
    runSpeaker()
    if (!stopped) perform(scheduler.plan(q.now))
  }

  function tick(): void {
    if (stopped) return
    pump()
    if (planned.listenMs !== null && speaker.state().positionMs >= planned.listenMs) {
      shutdown('skipped')
      return
    }
    checkPrefetch(ctx, l)
    q.after(TICK_MS, tick)
  }

  function shutdown(o: SimPlay['outcome']): void {
    if (stopped) return
    stopped = true
    outcome = o
    if (scheduler.emergency) setUploading(ctx, l, true)
    if (entry && hooks) entry.hooks.delete(hooks)
    if (entry && !c.closed) release(ctx, l, track)
    const s = speaker.state(q.now)
    ctx.metrics.play(t0, {
      kind,
      ttfaMs: ttfa,
      rttMs: l.rttMs,
      queued: planned.queued,
      habitual: planned.habitual,
      stalls: s.stalls,
      stalledMs: Math.round(s.stalledMs),
      listenedMs: Math.round(s.positionMs),
      bytes,
      firstPeerByteMs: firstPeerAt === null ? null : firstPeerAt - t0,
      outcome,
    })
    if (c.current === state) c.current = undefined
    onDone()
  }

  let wasPrefetched = false
  function begin(): void {
    if (stopped || c.closed) return
    wasPrefetched = pre !== undefined && cacheHas(l.cache, track, 0)
    if (pre) retire(c, pre, wasPrefetched)
    keyReadyAt = Math.max(q.now, pre ? pre.keyReadyAt : earlyKeyAt!)
    c.stats.plays++
    if (wasPrefetched) c.stats.prefetchedPlays++
    if (c.lastTrack !== undefined && c.lastTrack !== track) l.habits.record(String(c.lastTrack), String(track))
    c.lastTrack = track
    cacheTouch(l.cache, track)
    scheduler.start(0)
    for (const i of cacheHeld(l.cache, track)) {
      fromCache.add(i)
      scheduler.received(i, 'cache', q.now)
    }
    pump()
    if (ctx.p2p) {
      entry = join(ctx, l, track, () => Math.max(0, layout.count - cacheCount(l.cache, track)) * CHUNK_BYTES)
      hooks = {
        onPeer: (peer, holds) => {
          scheduler.addPeer(String(peer), holds)
          pump()
        },
        onHave: (peer, index) => {
          scheduler.peerHas(String(peer), index)
        },
        onChoke: (peer, choked) => scheduler.peerChoked(String(peer), choked),
        onPeerGone: (peer) => {
          scheduler.removePeer(String(peer))
          pump()
        },
        onReject: (index) => {
          scheduler.failed(index)
          pump()
        },
        onChunk: (index, size) => arrived(index, 'peer', size),
      }
      entry.hooks.add(hooks)
      for (const peer of entry.peers) scheduler.addPeer(String(peer), cacheHeld(ctx.listeners.get(peer)!.cache, track))
    }
    q.at(keyReadyAt, deliver)
    q.after(TICK_MS, tick)
  }

  // The manifest: prefetched with the head, or asked from the edge now.
  if (pre) begin()
  else q.at(ctx.edge.manifest(l, track), begin)
}

/** Prefetches no longer in the queue are dropped (client.ts `queue`). */
function retireStale(l: SimListener): void {
  const c = l.client!
  for (const [id, p] of c.prefetched) {
    if (p && !c.upcoming.includes(id)) {
      retire(c, p, false)
      c.prefetched.delete(id)
    }
  }
}

export function retire(c: NonNullable<SimListener['client']>, p: Prefetch, used: boolean): void {
  if (p.cancelled) return
  p.cancelled = true
  if (p.entry && p.hooks) p.entry.hooks.delete(p.hooks)
  c.stats.prefetchedBytes += p.bytes
  if (!used) c.stats.prefetchedBytesUnused += p.bytes
}

/** client.ts checkPrefetch: 30 s before the end, the next tracks' heads; at 10 s, what peers did not send comes from the edge. */
function checkPrefetch(ctx: SimContext, l: SimListener): void {
  const c = l.client!
  const cur = c.current
  if (!cur?.started || c.closed) return
  const remaining = ctx.catalog.durationMs(cur.track) - cur.positionMs()
  if (remaining > 30_000) return
  const candidates = c.upcoming.length ? c.upcoming.slice(0, PREFETCH_TRACKS) : l.habits.predict(String(cur.track), undefined, PREFETCH_TRACKS).map(Number)
  let budget = PREFETCH_BUDGET
  for (const id of candidates) {
    if (c.prefetched.has(id)) {
      const p = c.prefetched.get(id)
      if (p) {
        budget -= p.head.length * CHUNK_BYTES
        if (remaining <= 10_000) fromEdge(ctx, l, p)
      }
      continue
    }
    if (budget <= 0) break
    const reserve = budget
    budget = 0
    c.prefetched.set(id, null)
    ctx.q.at(ctx.edge.manifest(l, id), () => {
      if (c.closed || !c.prefetched.has(id)) return
      c.prefetched.set(id, prefetchHead(ctx, l, id, reserve))
    })
  }
}

function prefetchHead(ctx: SimContext, l: SimListener, track: number, budget: number): Prefetch {
  const { catalog } = ctx
  const layout = catalog.layout(track)
  const head: number[] = []
  for (let i = 0; i < layout.count && layout.startMs(i) < ctx.scheduler.headSec * 1000 && budget >= layout.size(i); i++) {
    budget -= layout.size(i)
    head.push(i)
  }
  const missing = () => head.filter((i) => !cacheHas(l.cache, track, i))
  const store = (i: number, size: number) => {
    if (p.cancelled || cacheHas(l.cache, track, i)) return
    p.bytes += size
    cachePut(l.cache, track, i, layout.count)
    announceHave(ctx, l, track, i)
  }
  const p: Prefetch = {
    track,
    keyReadyAt: keyAt(ctx, l, track),
    head,
    bytes: 0,
    asked: new Set(),
    fromEdge: new Set(),
    holders: new Map(),
    hooks: undefined,
    entry: undefined,
    cancelled: false,
    store,
    missing,
  }
  const askPeers = () => {
    if (!p.entry || p.cancelled) return
    for (const i of missing()) {
      if (p.asked.has(i)) continue
      for (const peer of p.entry.peers) {
        if (p.holders.get(peer)?.has(i) && request(ctx, l, p.entry, peer, i)) {
          p.asked.add(i)
          break
        }
      }
    }
  }
  if (ctx.p2p) {
    p.entry = join(ctx, l, track, () => layout.count * CHUNK_BYTES)
    p.hooks = {
      onPeer: (peer, holds) => {
        p.holders.set(peer, new Set(holds))
        askPeers()
      },
      onHave: (peer, i) => {
        let h = p.holders.get(peer)
        if (!h) {
          h = new Set()
          p.holders.set(peer, h)
        }
        h.add(i)
        askPeers()
      },
      onReject: (i) => {
        p.asked.delete(i)
        askPeers()
      },
      onPeerGone: (peer) => p.holders.delete(peer),
      onChunk: (i, size) => store(i, size),
    }
    p.entry.hooks.add(p.hooks)
    for (const peer of p.entry.peers) p.holders.set(peer, new Set(cacheHeld(ctx.listeners.get(peer)!.cache, track)))
    askPeers()
  }
  return p
}

function fromEdge(ctx: SimContext, l: SimListener, p: Prefetch): void {
  for (const i of p.missing()) {
    if (p.fromEdge.has(i)) continue
    p.fromEdge.add(i)
    const size = ctx.catalog.chunkBytes(p.track, i)
    ctx.q.at(ctx.edge.chunk(l, p.track, i, 'prefetch'), () => p.store(i, size))
  }
}
