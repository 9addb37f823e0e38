import { type Manifest, ProtocolError, type QualityManifest, decodeHead, headChunkCount, headPath, headQuality, utf8 } from '../../protocol/index.js'
import { type Forwarded, markForwarded, withUpstream } from './cache-status.js'
import type { StoredChunk } from './chunk-response.js'
import type { ChunkTier } from './chunk-tier.js'
import { type Coalescer, createCoalescer } from './coalescer.js'
import type { ManifestEntry, ManifestTier } from './manifest-tier.js'
import type { OriginClient } from './origin-client.js'
import type { CacheStatus, RequestContext, Timings } from './types.js'

/** A track's head as the edge answers it: the current manifest, the quality picked, the chunks of its first audio. */
interface HeadResult {
  entry: ManifestEntry
  quality: QualityManifest
  chunks: StoredChunk[]
  /** The least cached part: MISS when anything came from upstream for this answer. */
  status: CacheStatus
  timings: Timings
  forwarded?: Forwarded
  /** The manifest was past its TTL and is being refreshed behind this answer. */
  revalidating: boolean
}

export interface HeadTierOptions {
  origin: OriginClient
  manifests: ManifestTier
  chunks: ChunkTier
  now: () => number
  manifestTtlSec: number
  /** Past the TTL by less than this, the head is served from the manifest held while it is refreshed. */
  revalidateWindowSec: number
}

/**
 * Heads (protocol/src/head.ts) made of the other tiers. A head is never stored as such: its
 * manifest and chunks are, under their own keys, so the chunk requests that follow a head are
 * hits and a purge finds everything where it always does.
 *
 * - The current manifest held and fresh: the chunks from the chunk tier (the origin on a miss).
 * - Held but past its TTL by less than the revalidate window (STALE_WHILE_REVALIDATE_SEC): served
 *   as it is while it is refreshed behind the answer (RFC 5861's stale-while-revalidate). Its
 *   chunks are immutable, so the head is right for its version; the play after the refresh gets
 *   the new one, so a new version is one play late per location whatever the window. A cold play
 *   is what would wait on the refresh: a trip to the origin, two or more round trips to the edge.
 * - Not held (or older): one trip upstream for the whole head (`/head` at the origin or the
 *   shield), whose manifest and chunks are verified and kept as if fetched alone, instead of two
 *   trips in a row (the manifest, then the chunk its version names). If upstream has no head
 *   route, the manifest and then the chunks, as any request would.
 */
export interface HeadTier {
  get(trackId: string, kbps: number | undefined, ctx: RequestContext): Promise<HeadResult>
}

export function createHeadTier(options: HeadTierOptions): HeadTier {
  const { origin, manifests, chunks, now } = options
  const ttlMs = options.manifestTtlSec * 1000
  const windowMs = options.revalidateWindowSec * 1000
  const inflight: Coalescer<HeadResult> = createCoalescer()

  /** From what the tiers hold (or fetch one by one): the manifest given, its chunks from the chunk tier. */
  async function fromTiers(entry: ManifestEntry, status: CacheStatus, timings: Timings, kbps: number | undefined, ctx: RequestContext, revalidating: boolean, forwarded?: Forwarded) {
    const quality = headQuality(entry.manifest.qualities, kbps)
    const got = await Promise.all(addresses(entry.manifest, quality).map((a) => chunks.get(a, ctx)))
    const last = addresses(entry.manifest, quality).at(-1)!
    chunks.readAhead(last, entry.manifest, ctx)
    const missed = got.find((g) => g.status === 'MISS')
    return {
      entry,
      quality,
      chunks: got.map((g) => g.chunk),
      status: missed ? 'MISS' : status,
      timings: [...timings, ...got.flatMap((g) => g.timings)],
      ...((forwarded ?? missed?.forwarded) && { forwarded: forwarded ?? missed!.forwarded! }),
      revalidating,
    } satisfies HeadResult
  }

  function addresses(m: Manifest, q: QualityManifest) {
    return Array.from({ length: headChunkCount(q) }, (_, index) => ({ trackId: m.trackId, version: m.version, bitrate: q.bitrate, index }))
  }

  /** The whole head from upstream in one trip; undefined when upstream has no head route (an older origin). */
  async function fromUpstream(trackId: string, kbps: number | undefined, ctx: RequestContext): Promise<HeadResult | undefined> {
    const answer = await origin.request(headPath(trackId, kbps))
    const timings: Timings = [{ name: 'origin', ms: answer.ms }]
    const forwarded: Forwarded = { fwd: 'uri-miss', status: answer.status, stored: true, ...withUpstream(answer.headers) }
    if (answer.status === 404) {
      const code = (() => {
        try {
          return (JSON.parse(utf8.decode(answer.body)) as { error?: { code?: string } }).error?.code
        } catch {
          return undefined
        }
      })()
      if (code === 'track_not_found') throw markForwarded(new ProtocolError('track_not_found', `no track '${trackId}'`), { ...forwarded, stored: false })
      return undefined
    }
    if (answer.status !== 200) return undefined
    let head: ReturnType<typeof decodeHead>
    try {
      head = decodeHead(answer.body)
    } catch {
      return undefined
    }
    const signed = head.manifest as { manifest?: { version?: unknown }; signature?: unknown }
    const etag = `"${String(signed?.manifest?.version)}-${String(signed?.signature).slice(0, 16)}"`
    const entry = await manifests.adopt(trackId, JSON.stringify(head.manifest), etag, ctx).catch((err: unknown) => {
      throw markForwarded(err, { ...forwarded, stored: false })
    })
    const quality = entry.manifest.qualities.find((q) => q.bitrate === head.bitrate)
    if (!quality) throw markForwarded(new ProtocolError('integrity_failure', `a head from upstream carries a quality its manifest does not list`), { ...forwarded, stored: false })
    const wanted = addresses(entry.manifest, quality)
    const kept = await Promise.all(
      wanted.map(async (a) => {
        const bytes = head.chunks[a.index]
        if (!bytes) throw markForwarded(new ProtocolError('integrity_failure', 'a head from upstream lacks a chunk of its first audio'), { ...forwarded, stored: false })
        return chunks.adopt(a, bytes, entry.manifest, ctx).catch((err: unknown) => {
          throw markForwarded(err, { ...forwarded, stored: false })
        })
      }),
    )
    chunks.readAhead(wanted.at(-1)!, entry.manifest, ctx)
    return { entry, quality, chunks: kept, status: 'MISS', timings, forwarded, revalidating: false }
  }

  return {
    async get(trackId, kbps, ctx) {
      const started = now()
      const held = await manifests.held(trackId)
      const timings: Timings = [{ name: held?.status === 'HIT-CACHE' ? 'cache' : 'memory', ms: now() - started }]
      const age = held ? now() - held.entry.fetchedAt : Number.POSITIVE_INFINITY
      if (held && age < ttlMs) return fromTiers(held.entry, held.status, timings, kbps, ctx, false)
      if (held && age < ttlMs + windowMs) {
        ctx.waitUntil(
          manifests.current(trackId, ctx).then(
            () => {},
            () => {},
          ),
        )
        return fromTiers(held.entry, held.status, timings, kbps, ctx, true)
      }
      return inflight.run(`${trackId}?${kbps ?? ''}`, async () => {
        // Upstream down or without a head route: the manifest tier's rules (stale within its window on failure).
        const whole = await fromUpstream(trackId, kbps, ctx).catch((err: unknown) => {
          if (err instanceof ProtocolError && (err.code === 'track_not_found' || err.code === 'integrity_failure')) throw err
          return undefined
        })
        if (whole) return whole
        const current = await manifests.current(trackId, ctx)
        return fromTiers(current.entry, current.status, [...timings, ...current.timings], kbps, ctx, false, current.forwarded)
      }).promise
    },
  }
}
