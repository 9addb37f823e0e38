import type { PlayKind, PlayRecord, SessionRecord } from './listener.js'
import type { PhaseResult, Sample } from './phase.js'
import { topShareOf } from './popularity.js'

/**
 * The figures of one phase, from its records: values in, values out. Percentiles are
 * nearest-rank (p99 of 150 plays is the second largest: few plays, wide tails; the report
 * says how many plays each figure rests on).
 */
export interface Distribution {
  n: number
  p50: number
  p90: number
  p99: number
  mean: number
}

export interface PhaseSummary {
  name: string
  p2p: boolean
  wallMs: number
  plays: {
    total: number
    started: number
    failed: number
    cut: number
    skipped: number
    ended: number
    queuedShare: number
    predictableShare: number
    topShare: number
    byKind: Record<PlayKind, number>
  }
  ttfaMs: Record<PlayKind | 'all', Distribution>
  /** Cold TTFA in units of each play's own round trip to the edge. */
  coldRtts: Distribution
  /** Cold plays split by whether the edge had to go to the origin first. */
  coldEdgeHitMs: Distribution
  coldEdgeMissMs: Distribution
  /** Median wall ms from play() to each answer on a cold play's critical path (and how many plays had one). */
  coldPath: Record<'session' | 'head' | 'manifest' | 'key' | 'chunk', { p50: number; n: number }>
  prefetch: { hitRate: number; queuedHitRate: number; habitualHitRate: number; otherHitRate: number; bytes: number; unusedBytes: number; unusedShare: number }
  stalls: { playsWithStall: number; share: number; count: number; totalMs: number; perStalledPlayMs: number; shareOfListening: number }
  /** Bytes the plays took, by where the SDK got them (a prefetched head counts as cache). */
  played: { cache: number; peer: number; edge: number; shares: { cache: number; peer: number; edge: number } }
  /** Bytes that crossed the emulated network, whole phase and once warm. */
  network: {
    edge: number
    peer: number
    origin: number
    serverShare: number
    warm: { fromMs: number; edge: number; peer: number; origin: number; serverShare: number }
    /** Once warm: the edge's bytes to plays no online listener held (unservedByPeers), and their share of the network bytes: a floor. */
    floor: { bytes: number; plays: number; serverShare: number }
  }
  /** Where the edge's bytes went: plays (and plays that got nothing from peers), and the rest (prefetched heads, manifests, keys). */
  edgeBytes: { plays: number; playsWithoutPeers: number; playsWithoutPeersCount: number; other: number }
  peers: { attempts: number; established: number; failed: number; successRate: number; firstPeerByteMs: Distribution; playsWithPeerBytes: number }
  edge: { requests: number; hitRatio: number; byteHitRatio: number; originRequests: number } | undefined
  eventLoopMs: PhaseResult['eventLoopMs']
  workers: number
  maxFds: number
  /**
   * Per minute of listening (online time in audio time: the sessions' clock, as the sim counts
   * it) and per online wall minute (the compressed clock; `speed` times the former).
   */
  peerConnections: PhaseResult['peerConnections'] & { perListenerMinute: number; perOnlineWallMinute: number; listenerMinutes: number }
  /** Cores the listeners' processes used on average over the phase. */
  listenerCores: number
  loadAverage: [number, number]
}

export function distribution(values: readonly number[]): Distribution {
  const s = [...values].sort((a, b) => a - b)
  const at = (p: number) => (s.length === 0 ? Number.NaN : s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))]!)
  return { n: s.length, p50: at(0.5), p90: at(0.9), p99: at(0.99), mean: s.length ? s.reduce((a, b) => a + b, 0) / s.length : Number.NaN }
}

const ratio = (a: number, b: number) => (b > 0 ? a / b : Number.NaN)

/** Bytes between two samples: the window [fromMs, end]. */
function window(samples: readonly Sample[], fromMs: number): { edge: number; peer: number; origin: number; cache: number } {
  const last = samples[samples.length - 1]
  const first = samples.find((s) => s.tMs >= fromMs) ?? last
  if (!first || !last) return { edge: 0, peer: 0, origin: 0, cache: 0 }
  return { edge: last.edge - first.edge, peer: last.peer - first.peer, origin: last.origin - first.origin, cache: last.cache - first.cache }
}

/**
 * The edge bytes no peer could have sent: those of plays that no other listener online at their
 * start had played before (its cache is all a peer can serve), counted in the window from
 * `fromMs` in proportion to the play's wall time inside it. Generous to the peers (a listener
 * that played a few seconds of the track counts as holding it), so what is left is a floor on
 * the servers' bytes, before manifests, keys and the heads a cold start takes from the edge.
 */
export function unservedByPeers(plays: readonly PlayRecord[], sessions: readonly SessionRecord[], fromMs: number): { bytes: number; plays: number } {
  const onlineAt = (listener: number, t: number) => sessions.some((s) => s.listener === listener && s.fromMs <= t && t <= s.fromMs + s.onlineMs)
  let bytes = 0
  let count = 0
  for (const p of plays) {
    if (p.kind === null) continue
    const end = p.atMs + p.wallMs
    const inside = end <= fromMs ? 0 : p.atMs >= fromMs ? 1 : (end - fromMs) / Math.max(1, p.wallMs)
    if (inside === 0) continue
    const held = plays.some((q) => q.trackId === p.trackId && q.listener !== p.listener && q.kind !== null && q.atMs < p.atMs && onlineAt(q.listener, p.atMs))
    if (held) continue
    bytes += inside * p.bytes.edge
    count++
  }
  return { bytes, plays: count }
}

export function summarize(phase: PhaseResult, catalogSize: number, options: { warmFromMs: number; speed: number }): PhaseSummary {
  const plays = phase.plays
  const started = plays.filter((p) => p.kind !== null)
  const ttfa = (list: PlayRecord[]) => distribution(list.map((p) => p.ttfaMs!))
  const ofKind = (k: PlayKind) => started.filter((p) => p.kind === k)
  const cold = ofKind('cold')
  const hitRate = (list: PlayRecord[]) => ratio(list.filter((p) => p.kind === 'prefetched').length, list.length)
  const sessions: SessionRecord[] = phase.sessions
  const onlineMs = sessions.reduce((n, s) => n + s.onlineMs, 0)
  const prefetchedBytes = sessions.reduce((n, s) => n + s.prefetchedBytes, 0)
  const unusedBytes = sessions.reduce((n, s) => n + s.prefetchedBytesUnused, 0)
  const stalled = started.filter((p) => p.stalls > 0)
  const stallMs = started.reduce((n, p) => n + p.stalledMs, 0)
  const listenMs = started.reduce((n, p) => n + p.wallMs - (p.ttfaMs ?? 0), 0)
  const played = { cache: 0, peer: 0, edge: 0 }
  for (const p of plays) for (const k of ['cache', 'peer', 'edge'] as const) played[k] += p.bytes[k]
  const playedTotal = played.cache + played.peer + played.edge
  const all = window(phase.samples, 0)
  const warm = window(phase.samples, options.warmFromMs)
  const floor = unservedByPeers(plays, sessions, options.warmFromMs)
  const attempts = sessions.reduce((n, s) => n + s.attempts, 0)
  const established = sessions.reduce((n, s) => n + s.established, 0)
  const withPeer = plays.filter((p) => p.firstPeerByteMs !== null)
  const e = phase.edge
  const edgeRequests = e ? (e.requests.total ?? Object.values(e.requests).reduce((a, b) => a + b, 0)) : 0
  return {
    name: phase.name,
    p2p: phase.p2p,
    wallMs: phase.wallMs,
    plays: {
      total: plays.length,
      started: started.length,
      failed: plays.filter((p) => p.outcome === 'error').length,
      cut: plays.filter((p) => p.outcome === 'cut').length,
      skipped: plays.filter((p) => p.outcome === 'skipped').length,
      ended: plays.filter((p) => p.outcome === 'ended').length,
      queuedShare: ratio(plays.filter((p) => p.queued).length, plays.length),
      predictableShare: ratio(plays.filter((p) => p.queued || p.habitual).length, plays.length),
      topShare: topShareOf(
        plays.map((p) => p.rank),
        catalogSize,
      ),
      byKind: { cold: cold.length, cached: ofKind('cached').length, prefetched: ofKind('prefetched').length },
    },
    ttfaMs: { all: ttfa(started), cold: ttfa(cold), cached: ttfa(ofKind('cached')), prefetched: ttfa(ofKind('prefetched')) },
    coldRtts: distribution(cold.map((p) => p.ttfaMs! / p.rttMs)),
    coldEdgeHitMs: ttfa(cold.filter((p) => !p.edgeMiss)),
    coldEdgeMissMs: ttfa(cold.filter((p) => p.edgeMiss)),
    coldPath: Object.fromEntries(
      (['session', 'head', 'manifest', 'key', 'chunk'] as const).map((k) => {
        const d = distribution(cold.map((p) => p.path[k]).filter((v): v is number => v !== null))
        return [k, { p50: d.p50, n: d.n }]
      }),
    ) as PhaseSummary['coldPath'],
    prefetch: {
      hitRate: hitRate(started),
      queuedHitRate: hitRate(started.filter((p) => p.queued)),
      habitualHitRate: hitRate(started.filter((p) => p.habitual)),
      otherHitRate: hitRate(started.filter((p) => !p.queued && !p.habitual)),
      bytes: prefetchedBytes,
      unusedBytes,
      unusedShare: ratio(unusedBytes, prefetchedBytes),
    },
    stalls: {
      playsWithStall: stalled.length,
      share: ratio(stalled.length, started.length),
      count: started.reduce((n, p) => n + p.stalls, 0),
      totalMs: stallMs,
      perStalledPlayMs: ratio(stallMs, stalled.length),
      shareOfListening: ratio(stallMs, listenMs),
    },
    played: { ...played, shares: { cache: ratio(played.cache, playedTotal), peer: ratio(played.peer, playedTotal), edge: ratio(played.edge, playedTotal) } },
    network: {
      edge: all.edge,
      peer: all.peer,
      origin: all.origin,
      serverShare: ratio(all.edge, all.edge + all.peer),
      warm: { fromMs: options.warmFromMs, edge: warm.edge, peer: warm.peer, origin: warm.origin, serverShare: ratio(warm.edge, warm.edge + warm.peer) },
      floor: { ...floor, serverShare: ratio(floor.bytes, warm.edge + warm.peer) },
    },
    edgeBytes: {
      plays: played.edge,
      playsWithoutPeers: started.filter((p) => p.bytes.peer === 0).reduce((n, p) => n + p.bytes.edge, 0),
      playsWithoutPeersCount: started.filter((p) => p.bytes.peer === 0 && p.bytes.edge > 0).length,
      other: Math.max(0, all.edge - played.edge),
    },
    peers: {
      attempts,
      established,
      failed: sessions.reduce((n, s) => n + s.failed, 0),
      successRate: ratio(established, attempts),
      firstPeerByteMs: distribution(withPeer.map((p) => p.firstPeerByteMs!)),
      playsWithPeerBytes: withPeer.length,
    },
    edge: e && { requests: edgeRequests, hitRatio: e.hitRatio, byteHitRatio: e.byteHitRatio, originRequests: e.origin.requests },
    eventLoopMs: phase.eventLoopMs,
    workers: phase.workers,
    maxFds: phase.maxFds,
    peerConnections: {
      ...phase.peerConnections,
      perListenerMinute: ratio(phase.peerConnections.created, (onlineMs * options.speed) / 60_000),
      perOnlineWallMinute: ratio(phase.peerConnections.created, onlineMs / 60_000),
      listenerMinutes: (onlineMs * options.speed) / 60_000,
    },
    listenerCores: ratio(phase.listenerCpuMs, phase.wallMs),
    loadAverage: phase.loadAverage,
  }
}
