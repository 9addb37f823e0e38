/**
 * What the simulation counts: bytes by source and edge requests per bucket of virtual time
 * (for the time line and the warm window), and one record per play started after the warm-up.
 */
export interface SimPlay {
  kind: 'cold' | 'cached' | 'prefetched' | null
  ttfaMs: number | null
  rttMs: number
  queued: boolean
  habitual: boolean
  stalls: number
  stalledMs: number
  listenedMs: number
  bytes: { cache: number; peer: number; edge: number }
  firstPeerByteMs: number | null
  outcome: 'ended' | 'skipped' | 'cut'
}

/**
 * Why the edge sent bytes: a play's head; a later chunk no connected peer held; a later chunk a
 * connected peer held (it turned urgent first, or the player was in an emergency); a prefetched
 * head; manifests and keys.
 */
export type EdgePurpose = 'head' | 'noPeer' | 'urgent' | 'prefetch' | 'control'

export interface Bucket {
  edgeBytes: number
  edgeBy: Record<EdgePurpose, number>
  edgeRequests: number
  peerBytes: number
  originBytes: number
  originRequests: number
  cacheBytes: number
  /** Edge bytes to plays of a track no other online listener held at the play's start: a floor. */
  unheldBytes: number
  online: number
}

export function createMetrics(bucketMs: number, warmupMs: number) {
  const buckets: Bucket[] = []
  const plays: SimPlay[] = []
  const at = (now: number): Bucket => {
    const i = Math.floor(now / bucketMs)
    while (buckets.length <= i)
      buckets.push({
        edgeBytes: 0,
        edgeBy: { head: 0, noPeer: 0, urgent: 0, prefetch: 0, control: 0 },
        edgeRequests: 0,
        peerBytes: 0,
        originBytes: 0,
        originRequests: 0,
        cacheBytes: 0,
        unheldBytes: 0,
        online: 0,
      })
    return buckets[i]!
  }
  const clients = { sessions: 0, attempts: 0, established: 0, failed: 0, prefetchedBytes: 0, prefetchedBytesUnused: 0 }
  return {
    bucketMs,
    warmupMs,
    buckets,
    plays,
    clients,
    edge(now: number, bytes: number, purpose: EdgePurpose): void {
      const b = at(now)
      b.edgeBytes += bytes
      b.edgeBy[purpose] += bytes
      b.edgeRequests++
    },
    origin(now: number, bytes: number): void {
      const b = at(now)
      b.originBytes += bytes
      b.originRequests++
    },
    peer(now: number, bytes: number): void {
      at(now).peerBytes += bytes
    },
    cache(now: number, bytes: number): void {
      at(now).cacheBytes += bytes
    },
    unheld(now: number, bytes: number): void {
      at(now).unheldBytes += bytes
    },
    online(now: number, n: number): void {
      const b = at(now)
      b.online = Math.max(b.online, n)
    },
    play(startedAt: number, p: SimPlay): void {
      if (startedAt >= warmupMs) plays.push(p)
    },
  }
}

export type Metrics = ReturnType<typeof createMetrics>
