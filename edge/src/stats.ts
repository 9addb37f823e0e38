import type { MemoryCacheStats } from './memory-cache.js'

/**
 * What the edge counts, per isolate: requests, where each answer came from, bytes per tier,
 * coalesced waits, integrity failures, stale answers and origin latency. Plain counters that the
 * request path bumps; the JSON and Prometheus views are built only when asked for.
 */
export type Source = 'memory' | 'cache' | 'origin' | 'stale'
type ContentKind = 'chunk' | 'manifest' | 'catalog'
export type RequestKind = ContentKind | 'admin' | 'other'

const SOURCES: readonly Source[] = ['memory', 'cache', 'origin', 'stale']
const KINDS: readonly ContentKind[] = ['chunk', 'manifest', 'catalog']
const REQUEST_KINDS: readonly RequestKind[] = ['chunk', 'manifest', 'catalog', 'admin', 'other']
/** Origin latency buckets (ms): loopback answers land in the first few, a slow origin in the last. */
const ORIGIN_BUCKETS_MS = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000] as const

type Counts<K extends string> = Record<K, number>
const zeros = <K extends string>(keys: readonly K[]): Counts<K> => Object.fromEntries(keys.map((k) => [k, 0])) as Counts<K>

export interface EdgeStatsSnapshot {
  startedAt: string
  requests: Counts<RequestKind> & { total: number }
  /** Error answers (4xx/5xx JSON) by status. */
  errors: Record<string, number>
  hits: Counts<'memory' | 'cache'>
  misses: number
  stale: number
  /** Answers to content requests (chunks, manifests, catalog) by where they came from. */
  served: Record<ContentKind, Counts<Source>>
  bytes: Counts<Source>
  hitRatio: number
  byteHitRatio: number
  negativeHits: number
  coalescedWaits: number
  integrityFailures: Counts<'chunk' | 'manifest' | 'cachedChunk'>
  readAhead: { started: number; fromCache: number; fromOrigin: number; failed: number }
  origin: {
    requests: number
    errors: number
    timeouts: number
    latencyMs: { buckets: Array<{ le: number | '+Inf'; count: number }>; sum: number; count: number }
  }
  memory: MemoryCacheStats | null
}

/** One isolate's counters: bumped by the request path, read as a snapshot. */
export interface EdgeStats {
  /** A request arrived, of this kind. */
  request(kind: RequestKind): void
  /** An error answer (4xx/5xx JSON) went out with this status. */
  error(status: number): void
  /** One content answer (200/206/304): `size` is the body bytes sent (0 for HEAD and 304). */
  served(kind: ContentKind, source: Source, size: number): void
  /** A 404 answered from the negative cache. */
  negativeHit(): void
  /** A request waited on another's origin fetch instead of making its own. */
  coalescedWait(): void
  /** Bytes that failed their check against the signed manifest (from the origin, or a cached chunk). */
  integrityFailure(what: 'chunk' | 'manifest' | 'cachedChunk'): void
  /** A read-ahead started, or ended from the cache, from the origin, or in failure. */
  readAhead(event: 'started' | 'fromCache' | 'fromOrigin' | 'failed'): void
  /** One origin request and how long it took (ms). */
  origin(ms: number, outcome: 'ok' | 'error' | 'timeout'): void
  /** Every figure now, with the memory tier's (null without one); ratios computed here. */
  snapshot(memory: MemoryCacheStats | null): EdgeStatsSnapshot
}

export function createEdgeStats(now: () => number): EdgeStats {
  const startedAt = new Date(now()).toISOString()
  const requests = zeros(REQUEST_KINDS)
  const errors = new Map<number, number>()
  const served = Object.fromEntries(KINDS.map((k) => [k, zeros(SOURCES)])) as Record<ContentKind, Counts<Source>>
  const bytes = zeros(SOURCES)
  const integrityFailures = { chunk: 0, manifest: 0, cachedChunk: 0 }
  const readAhead = { started: 0, fromCache: 0, fromOrigin: 0, failed: 0 }
  const buckets = new Array<number>(ORIGIN_BUCKETS_MS.length + 1).fill(0)
  let originSum = 0
  let originCount = 0
  let originErrors = 0
  let originTimeouts = 0
  let negativeHits = 0
  let coalescedWaits = 0

  return {
    request(kind: RequestKind): void {
      requests[kind]++
    },
    error(status: number): void {
      errors.set(status, (errors.get(status) ?? 0) + 1)
    },
    served(kind: ContentKind, source: Source, size: number): void {
      served[kind][source]++
      bytes[source] += size
    },
    negativeHit(): void {
      negativeHits++
    },
    coalescedWait(): void {
      coalescedWaits++
    },
    integrityFailure(what: 'chunk' | 'manifest' | 'cachedChunk'): void {
      integrityFailures[what]++
    },
    readAhead(event: keyof typeof readAhead): void {
      readAhead[event]++
    },
    origin(ms: number, outcome: 'ok' | 'error' | 'timeout'): void {
      let i = 0
      while (i < ORIGIN_BUCKETS_MS.length && ms > ORIGIN_BUCKETS_MS[i]!) i++
      buckets[i]!++
      originSum += ms
      originCount++
      if (outcome === 'error') originErrors++
      if (outcome === 'timeout') originTimeouts++
    },

    snapshot(memory: MemoryCacheStats | null): EdgeStatsSnapshot {
      const total = (s: Source) => KINDS.reduce((n, k) => n + served[k][s], 0)
      const hits = { memory: total('memory'), cache: total('cache') }
      const stale = total('stale')
      const misses = total('origin')
      const answers = hits.memory + hits.cache + stale + misses
      const allBytes = bytes.memory + bytes.cache + bytes.origin + bytes.stale
      let cumulative = 0
      const histogram = ORIGIN_BUCKETS_MS.map((le, i) => {
        cumulative += buckets[i]!
        return { le: le as number | '+Inf', count: cumulative }
      })
      histogram.push({ le: '+Inf', count: originCount })
      return {
        startedAt,
        requests: { ...requests, total: REQUEST_KINDS.reduce((n, k) => n + requests[k], 0) },
        errors: Object.fromEntries([...errors].sort((a, b) => a[0] - b[0]).map(([s, n]) => [String(s), n])),
        hits,
        misses,
        stale,
        served: Object.fromEntries(KINDS.map((k) => [k, { ...served[k] }])) as Record<ContentKind, Counts<Source>>,
        bytes: { ...bytes },
        hitRatio: answers ? (hits.memory + hits.cache + stale) / answers : 0,
        byteHitRatio: allBytes ? (bytes.memory + bytes.cache + bytes.stale) / allBytes : 0,
        negativeHits,
        coalescedWaits,
        integrityFailures: { ...integrityFailures },
        readAhead: { ...readAhead },
        origin: { requests: originCount, errors: originErrors, timeouts: originTimeouts, latencyMs: { buckets: histogram, sum: originSum, count: originCount } },
        memory,
      }
    },
  }
}

/** The Prometheus text exposition (version 0.0.4) of a snapshot. */
export function renderPrometheus(s: EdgeStatsSnapshot, prefix = 'chorus_edge'): string {
  const lines: string[] = []
  const metric = (name: string, type: 'counter' | 'gauge', help: string, samples: Array<[Record<string, string>, number]>) => {
    lines.push(`# HELP ${prefix}_${name} ${help}`, `# TYPE ${prefix}_${name} ${type}`)
    for (const [labels, value] of samples) {
      const text = Object.entries(labels)
        .map(([k, v]) => `${k}="${v}"`)
        .join(',')
      lines.push(`${prefix}_${name}${text ? `{${text}}` : ''} ${value}`)
    }
  }
  metric(
    'requests_total',
    'counter',
    'Requests by kind.',
    REQUEST_KINDS.map((k) => [{ kind: k }, s.requests[k]]),
  )
  metric(
    'errors_total',
    'counter',
    'Error answers by status.',
    Object.entries(s.errors).map(([status, n]) => [{ status }, n]),
  )
  metric(
    'responses_total',
    'counter',
    'Content answers by kind and the tier they came from (origin = miss).',
    KINDS.flatMap((k) => SOURCES.map((src) => [{ kind: k, tier: src }, s.served[k][src]] as [Record<string, string>, number])),
  )
  metric('hits_total', 'counter', 'Content answers served from a cache tier.', [
    [{ tier: 'memory' }, s.hits.memory],
    [{ tier: 'cache' }, s.hits.cache],
  ])
  metric('misses_total', 'counter', 'Content answers fetched from the origin.', [[{}, s.misses]])
  metric('stale_total', 'counter', 'Manifests served past their TTL because the origin failed.', [[{}, s.stale]])
  metric(
    'bytes_total',
    'counter',
    'Body bytes served by tier.',
    SOURCES.map((src) => [{ tier: src }, s.bytes[src]]),
  )
  metric('hit_ratio', 'gauge', 'Share of content answers served from a cache tier (stale included).', [[{}, s.hitRatio]])
  metric('byte_hit_ratio', 'gauge', 'Share of content bytes served from a cache tier (stale included).', [[{}, s.byteHitRatio]])
  metric('negative_hits_total', 'counter', 'Not-found answers served from the negative cache.', [[{}, s.negativeHits]])
  metric('coalesced_waits_total', 'counter', 'Requests that waited for a fetch already in flight instead of starting one.', [[{}, s.coalescedWaits]])
  metric('integrity_failures_total', 'counter', 'Answers that failed verification: from the origin (chunk hash, manifest signature) or read back from the Cache API (cached_chunk).', [
    [{ what: 'chunk' }, s.integrityFailures.chunk],
    [{ what: 'manifest' }, s.integrityFailures.manifest],
    [{ what: 'cached_chunk' }, s.integrityFailures.cachedChunk],
  ])
  metric(
    'read_ahead_total',
    'counter',
    'Read-ahead warms by outcome.',
    Object.entries(s.readAhead).map(([event, n]) => [{ event }, n]),
  )
  metric('origin_errors_total', 'counter', 'Origin requests that failed (network error or timeout).', [[{}, s.origin.errors + s.origin.timeouts]])
  if (s.memory) {
    metric('memory_bytes', 'gauge', 'Bytes held by the memory tier.', [[{ policy: s.memory.policy }, s.memory.bytes]])
    metric('memory_entries', 'gauge', 'Entries held by the memory tier.', [[{ policy: s.memory.policy }, s.memory.entries]])
    metric('memory_evictions_total', 'counter', 'Entries the eviction policy pushed out.', [[{ policy: s.memory.policy }, s.memory.evictions]])
  }
  const h = `${prefix}_origin_latency_seconds`
  lines.push(`# HELP ${h} Time of origin requests, to the whole body.`, `# TYPE ${h} histogram`)
  for (const b of s.origin.latencyMs.buckets) lines.push(`${h}_bucket{le="${b.le === '+Inf' ? '+Inf' : b.le / 1000}"} ${b.count}`)
  lines.push(`${h}_sum ${s.origin.latencyMs.sum / 1000}`, `${h}_count ${s.origin.latencyMs.count}`)
  return `${lines.join('\n')}\n`
}
