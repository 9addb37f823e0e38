import { type Action, DEFAULT_KEYS_RENEWED, DEFAULT_KEY_TTL_SEC, createScheduler, headChunks, headRequests, keysToRenew, prefetchPlan, startPath } from '../../client-sdk/core.js'
import { createSpeaker } from '../../client-sdk/core.js'
import type { PlannedPlay } from '../playback/scenario.js'
import { cacheCount, cacheHas, cacheHeld, cachePut, cacheTouch } from './cache.js'
import { CHUNK_BYTES } from './catalog.js'
import type { SimContext } from './context.js'
import { HEAD_CHUNKS } from './edge-model.js'
import type { SimPlay } from './metrics.js'
import { announceHave, join, release, request, setUploading, tokenAt } from './peer-network.js'
import type { Prefetch, SimListener, SwarmEntry, SwarmHooks } from './types.js'

/**
 * One play, as the SDK's client.ts and playback.ts carry it out, under virtual time. The rules
 * are the SDK's own cores: what a play asks for as it starts (start-path), the scheduler (where
 * each chunk comes from), the speaker (the playhead, stalls), the prefetch rules (prefetch-plan).
 * What is left here is carrying them out against the models: the edge's head (manifest and first
 * chunk in one answer), the key service at the edge's location (the session, with the key of a
 * play begun as the client starts riding in it; a key on its own after the session's token; the
 * keys of the cached tracks used last whose leases ran out, in one request after the token), key
 * leases on the device (an hour, kept across sessions; a listener's history was heard long before
 * the run, at 1 % activity, so its leases have run out), LOCAL_MS for each local step (reading and
 * verifying the cached manifest, reading a lease, reading, verifying and decrypting the first chunk).
 */
const TICK_MS = 1000
const LOCAL_MS = 2
const KEY_LEASE_MS = DEFAULT_KEY_TTL_SEC * 1000

/** A key the key service gave, at the client at `at`: held for the session, its lease kept on the device. */
function gotKey(l: SimListener, track: number, at: number): number {
  l.client!.keys.set(track, at)
  l.leases.set(track, at + KEY_LEASE_MS)
  return at
}

/**
 * client.ts trackKey: the key held in memory (or riding in the session's answer), else its lease
 * on this device, else in the session request when it has not left yet, else asked of the key
 * service after the session's token.
 */
function trackKeyAt(ctx: SimContext, l: SimListener, track: number): number {
  const c = l.client!
  const held = c.keys.get(track)
  if (held !== undefined) return held
  const lease = l.leases.get(track)
  if (lease !== undefined && ctx.q.now < lease) {
    c.keys.set(track, ctx.q.now + LOCAL_MS)
    return ctx.q.now + LOCAL_MS
  }
  if (c.sessionAskedAt === ctx.q.now) return gotKey(l, track, tokenAt(ctx, l))
  return gotKey(l, track, ctx.edge.keyService(l, Math.max(ctx.q.now, tokenAt(ctx, l))))
}

/**
 * client.ts renewCachedKeys: the keys of the cached tracks used last that the client does not
 * hold and whose leases ran out (core/key-lease.ts keysToRenew), in one request, sent when the
 * session's token is there (the SDK sends it once the first audio is out: about then).
 */
export function renewCachedKeys(ctx: SimContext, l: SimListener): void {
  const c = l.client!
  const now = ctx.q.now
  const recent = [...l.cache.tracks.keys()].reverse()
  const held = (t: number) => c.keys.has(t) || (l.leases.get(t) ?? 0) > now
  const wanted = keysToRenew(recent, DEFAULT_KEYS_RENEWED, held)
  if (wanted.length === 0) return
  const at = ctx.edge.keyService(l, Math.max(now, tokenAt(ctx, l)))
  for (const t of wanted) gotKey(l, t, at)
}

export function startPlay(ctx: SimContext, l: SimListener, planned: PlannedPlay, onDone: () => void): void {
  const c = l.client!
  const { q, catalog } = ctx
  const track = planned.rank
  const layout = catalog.layout(track)
  const t0 = q.now
  const pre = c.prefetched.get(track) ?? undefined
  c.prefetched.delete(track)
  const path = startPath({
    prefetched: pre !== undefined,
    // The manifest is cached with the chunks it names: a cached first chunk means a usable cached manifest.
    cachedManifest: cacheHas(l.cache, track, 0),
    keyHeld: c.keys.has(track),
    sessionBoarding: c.sessionAskedAt === q.now,
    fromStart: true,
  })
  // In the session's answer, or on its own once the session's token is there.
  const earlyKeyAt = path.key === 'session' ? gotKey(l, track, tokenAt(ctx, l)) : path.key === 'request' ? gotKey(l, track, ctx.edge.keyService(l, Math.max(q.now, tokenAt(ctx, l)))) : undefined
  c.upcoming = planned.upcoming.filter((t) => t !== track)
  retireStale(l)
  // No other listener online holds any of this track: whatever the edge sends this play, no peer
  // rule could have sent instead (the floor of the servers' share).
  const unheld = (ctx.holders.get(track) ?? 0) - (l.cache.tracks.has(track) ? 1 : 0) <= 0
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
    if (source === 'edge' && unheld) ctx.metrics.unheld(q.now, size)
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
  /** `fromHead`: chunks the edge's head carried. */
  function begin(fromHead: number): void {
    if (stopped || c.closed) return
    wasPrefetched = pre !== undefined && cacheHas(l.cache, track, 0)
    if (pre) retire(c, pre, wasPrefetched)
    keyReadyAt = Math.max(q.now, pre ? pre.keyReadyAt : (earlyKeyAt ?? trackKeyAt(ctx, l, track)))
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
    for (let i = 0; i < fromHead; i++) arrived(i, 'edge', layout.size(i))
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
        onReject: (index, peer) => {
          // playback.ts: not asked of that peer again (it does not hold it, or will not serve it now).
          scheduler.peerLacks(String(peer), index)
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

  if (path.manifest === 'prefetch') begin(0)
  else if (path.manifest === 'local') {
    // The edge's current manifest is asked behind a cached start, for the next play.
    ctx.edge.manifest(l, track)
    q.at(q.now + LOCAL_MS, () => begin(0))
  } else if (path.manifest === 'head') q.at(ctx.edge.head(l, track), () => begin(HEAD_CHUNKS))
  else q.at(ctx.edge.manifest(l, track), () => begin(0))
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

/** client.ts checkPrefetch: the prefetch rules for the current play, carried out. */
function checkPrefetch(ctx: SimContext, l: SimListener): void {
  const c = l.client!
  const cur = c.current
  if (!cur || c.closed) return
  const actions = prefetchPlan({
    started: cur.started,
    remainingMs: ctx.catalog.durationMs(cur.track) - cur.positionMs(),
    queue: c.upcoming,
    predict: (n) => l.habits.predict(String(cur.track), undefined, n).map(Number),
    held: (id) => {
      if (!c.prefetched.has(id)) return undefined
      const p = c.prefetched.get(id)
      return p ? { headBytes: p.head.length * CHUNK_BYTES, complete: p.missing().length === 0 } : 'loading'
    },
  })
  for (const a of actions) {
    const id = a.id
    if (a.type === 'edge') {
      const p = c.prefetched.get(id)
      if (p) fromEdge(ctx, l, p)
      continue
    }
    c.prefetched.set(id, null)
    ctx.q.at(ctx.edge.manifest(l, id), () => {
      if (c.closed || !c.prefetched.has(id)) return
      c.prefetched.set(id, prefetchHead(ctx, l, id, a.byteBudget))
    })
  }
}

/** prefetch.ts: the head within its budget, asked of peers as they announce it; the key after the manifest. */
function prefetchHead(ctx: SimContext, l: SimListener, track: number, budget: number): Prefetch {
  const layout = ctx.catalog.layout(track)
  const head = headChunks(layout, ctx.scheduler.headSec, budget)
  const missing = () => head.filter((i) => !cacheHas(l.cache, track, i))
  const store = (i: number, size: number) => {
    if (p.cancelled || cacheHas(l.cache, track, i)) return
    p.bytes += size
    cachePut(l.cache, track, i, layout.count)
    announceHave(ctx, l, track, i)
  }
  const p: Prefetch = {
    track,
    keyReadyAt: trackKeyAt(ctx, l, track),
    head,
    bytes: 0,
    asked: new Map(),
    fromEdge: new Set(),
    holders: new Map(),
    hooks: undefined,
    entry: undefined,
    cancelled: false,
    store,
    missing,
  }
  const askPeers = () => {
    const entry = p.entry
    if (!entry || p.cancelled) return
    const ask = headRequests({ missing: missing(), asked: p.asked, peers: [...entry.peers], holds: (peer, i) => p.holders.get(peer)?.has(i) === true })
    for (const { index, peer } of ask) if (request(ctx, l, entry, peer, index)) p.asked.set(index, peer)
  }
  if (ctx.p2p) {
    p.entry = join(ctx, l, track, () => Math.max(0, layout.count - cacheCount(l.cache, track)) * CHUNK_BYTES)
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
      onReject: (i, peer) => {
        p.holders.get(peer)?.delete(i)
        p.asked.delete(i)
        askPeers()
      },
      onPeerGone: (peer) => {
        p.holders.delete(peer)
        for (const [i, q] of p.asked) if (q === peer) p.asked.delete(i)
        askPeers()
      },
      onChunk: (i, size) => {
        store(i, size)
        p.asked.delete(i)
        askPeers()
      },
    }
    p.entry.hooks.add(p.hooks)
    for (const peer of p.entry.peers) p.holders.set(peer, new Set(cacheHeld(ctx.listeners.get(peer)!.cache, track)))
    askPeers()
  }
  return p
}

/** What no peer sent of a prefetched head, from the edge (each chunk asked once). */
function fromEdge(ctx: SimContext, l: SimListener, p: Prefetch): void {
  for (const i of p.missing()) {
    if (p.fromEdge.has(i)) continue
    p.fromEdge.add(i)
    const size = ctx.catalog.chunkBytes(p.track, i)
    ctx.q.at(ctx.edge.chunk(l, p.track, i, 'prefetch'), () => p.store(i, size))
  }
}
