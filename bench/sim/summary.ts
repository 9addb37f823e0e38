import { type Distribution, distribution } from '../playback/summary.js'
import type { EdgePurpose, SimPlay } from './metrics.js'
import type { WorldResult } from './world.js'

/** The figures of one simulated level, from its world: values in, values out. */
export interface SimSummary {
  population: number
  online: number
  listenersMet: number
  simulatedSec: number
  wallSec: number
  /** The wall budget ran out before the virtual duration: figures cover `simulatedSec`. */
  truncated: boolean
  heapMb: number
  plays: { counted: number; byKind: Record<'cold' | 'cached' | 'prefetched' | 'none', number> }
  ttfaMs: Record<'cold' | 'cached' | 'prefetched' | 'all', Distribution>
  coldRtts: Distribution
  prefetch: { hitRate: number; queuedHitRate: number; habitualHitRate: number; unusedShare: number }
  stalls: { share: number; perStalledPlayMs: number; shareOfListening: number }
  played: { cache: number; peer: number; edge: number }
  /** Warm window (after the warm-up): bytes on the network and the servers' share. */
  network: {
    edgeBytes: number
    peerBytes: number
    originBytes: number
    serverShare: number
    edgeBy: Record<EdgePurpose, number>
    /** Edge bytes to plays whose track no other online listener held, as a share of the network bytes: a floor under serverShare. */
    floorShare: number
  }
  /** Edge load in the warm window: mean and peak over 10 s buckets. */
  edgeLoad: { requestsPerSec: number; gbps: number; peakGbps: number; kbpsPerListener: number; cdnGbps: number; originRequestsPerSec: number; originGbps: number }
  peers: {
    /** RTCPeerConnections made to offer and to answer (the whole run), and per listener online per minute. */
    offers: number
    answers: number
    perListenerMinute: number
    attempts: number
    established: number
    failed: number
    successRate: number
    /** Connections closed idle; swarms opened on a connection made for another (each an RTCPeerConnection not made). */
    closedIdle: number
    swarmsOnExistingConnections: number
    firstPeerByteMs: Distribution
  }
  tracker: { announcesPerSec: number; messagesPerSec: number; offersRelayed: number; swarms: number; memberships: number; socketsClosed: number; rejected: Record<string, number> } | undefined
}

const ratio = (a: number, b: number) => (b > 0 ? a / b : Number.NaN)

export function summarizeWorld(population: number, w: WorldResult, durationMs: number): SimSummary {
  const m = w.metrics
  const plays = m.plays
  const started = plays.filter((p) => p.kind !== null)
  const ofKind = (k: SimPlay['kind']) => started.filter((p) => p.kind === k)
  const hit = (list: SimPlay[]) => ratio(list.filter((p) => p.kind === 'prefetched').length, list.length)
  const stalled = started.filter((p) => p.stalls > 0)
  const stalledMs = started.reduce((n, p) => n + p.stalledMs, 0)
  const listenedMs = started.reduce((n, p) => n + p.listenedMs, 0)
  const played = { cache: 0, peer: 0, edge: 0 }
  for (const p of plays) for (const k of ['cache', 'peer', 'edge'] as const) played[k] += p.bytes[k]
  const playedTotal = played.cache + played.peer + played.edge
  const first = Math.floor(m.warmupMs / m.bucketMs)
  const last = Math.floor(w.simulatedMs / m.bucketMs)
  const warm = m.buckets.slice(first, last)
  const sum = (k: 'edgeBytes' | 'peerBytes' | 'originBytes' | 'edgeRequests' | 'originRequests') => warm.reduce((n, b) => n + b[k], 0)
  const secs = (warm.length * m.bucketMs) / 1000
  const edgeBytes = sum('edgeBytes')
  const peerBytes = sum('peerBytes')
  const gbps = (bytes: number) => (secs > 0 ? (bytes * 8) / secs / 1e9 : Number.NaN)
  const peak = warm.reduce((n, b) => Math.max(n, b.edgeBytes), 0)
  const t = w.tracker
  return {
    population,
    online: w.online,
    listenersMet: w.listenersMet,
    simulatedSec: Math.round(w.simulatedMs / 1000),
    wallSec: Math.round(w.wallMs / 100) / 10,
    truncated: w.simulatedMs < durationMs,
    heapMb: w.heapMb,
    plays: { counted: plays.length, byKind: { cold: ofKind('cold').length, cached: ofKind('cached').length, prefetched: ofKind('prefetched').length, none: plays.length - started.length } },
    ttfaMs: {
      all: distribution(started.map((p) => p.ttfaMs!)),
      cold: distribution(ofKind('cold').map((p) => p.ttfaMs!)),
      cached: distribution(ofKind('cached').map((p) => p.ttfaMs!)),
      prefetched: distribution(ofKind('prefetched').map((p) => p.ttfaMs!)),
    },
    coldRtts: distribution(ofKind('cold').map((p) => p.ttfaMs! / p.rttMs)),
    prefetch: {
      hitRate: hit(started),
      queuedHitRate: hit(started.filter((p) => p.queued)),
      habitualHitRate: hit(started.filter((p) => p.habitual)),
      unusedShare: ratio(w.clients.prefetchedBytesUnused, w.clients.prefetchedBytes),
    },
    stalls: { share: ratio(stalled.length, started.length), perStalledPlayMs: ratio(stalledMs, stalled.length), shareOfListening: ratio(stalledMs, listenedMs) },
    played: { cache: ratio(played.cache, playedTotal), peer: ratio(played.peer, playedTotal), edge: ratio(played.edge, playedTotal) },
    network: {
      edgeBytes,
      peerBytes,
      originBytes: sum('originBytes'),
      serverShare: ratio(edgeBytes, edgeBytes + peerBytes),
      floorShare: ratio(
        warm.reduce((n, b) => n + b.unheldBytes, 0),
        edgeBytes + peerBytes,
      ),
      edgeBy: Object.fromEntries(
        (['head', 'noPeer', 'urgent', 'prefetch', 'control'] as const).map((k) => [
          k,
          ratio(
            warm.reduce((n, b) => n + b.edgeBy[k], 0),
            edgeBytes,
          ),
        ]),
      ) as Record<EdgePurpose, number>,
    },
    edgeLoad: {
      requestsPerSec: secs > 0 ? sum('edgeRequests') / secs : Number.NaN,
      gbps: gbps(edgeBytes),
      peakGbps: (peak * 8) / (m.bucketMs / 1000) / 1e9,
      kbpsPerListener: (gbps(edgeBytes) * 1e9) / w.online / 1000,
      cdnGbps: gbps(edgeBytes + peerBytes),
      originRequestsPerSec: secs > 0 ? sum('originRequests') / secs : Number.NaN,
      originGbps: gbps(sum('originBytes')),
    },
    peers: {
      offers: w.clients.offers,
      answers: w.clients.answers,
      perListenerMinute: ratio(w.clients.offers + w.clients.answers, w.online * (w.simulatedMs / 60_000)),
      closedIdle: w.clients.closedIdle,
      swarmsOnExistingConnections: w.clients.swarmsOnExistingConnections,
      attempts: w.clients.attempts,
      established: w.clients.established,
      failed: w.clients.failed,
      successRate: ratio(w.clients.established, w.clients.attempts),
      firstPeerByteMs: distribution(plays.filter((p) => p.firstPeerByteMs !== null).map((p) => p.firstPeerByteMs!)),
    },
    tracker: t && {
      announcesPerSec: t.announces / (w.simulatedMs / 1000),
      messagesPerSec: w.trackerMessages / (w.simulatedMs / 1000),
      offersRelayed: t.offersRelayed,
      swarms: t.swarms,
      memberships: t.peers,
      socketsClosed: w.trackerClosed,
      rejected: t.rejected as Record<string, number>,
    },
  }
}
