import type { Manifest, QualityManifest } from '../../protocol/index.js'
import { type ChunkCache, chunkKey } from './cache/chunk-cache.js'
import { headChunks, headRequests } from './core/prefetch-plan.js'
import { qualityLayout } from './core/scheduler.js'
import type { EdgeClient } from './edge-client.js'
import type { Network } from './p2p/network.js'
import { type PeerSet, swarmQuality } from './p2p/peer-set.js'

/** How long a retired prefetch holds on to its swarm (see cancel). */
const LEAVE_AFTER_MS = 15_000

/**
 * The head of a track that may play next, loaded ahead of time: the manifest and key at once,
 * the swarm joined so peers can send the head, and (when told, 10 s before the current track
 * ends) whatever of the head no peer sent fetched from the edge. What it loads lands in the
 * cache, so the next track starts from there.
 */
export interface Prefetched {
  trackId: string
  manifest: Manifest
  quality: QualityManifest
  key: Promise<CryptoKey>
  /** Bytes it brought in (peers and edge). */
  bytes: number
  headChunks: number[]
  fromEdge(): Promise<void>
  complete(): boolean
  cancel(): void
}

export async function prefetchHead(args: {
  trackId: string
  manifest: Manifest
  quality: QualityManifest
  key: Promise<CryptoKey>
  headSec: number
  /** Head chunks asked of one peer at a time (core/prefetch-plan.ts). */
  perPeer: number
  edge: EdgeClient
  cache: ChunkCache
  network: Network | undefined
  byteBudget: number
}): Promise<Prefetched> {
  const { manifest, quality, cache, edge } = args
  const head = headChunks(qualityLayout(quality, manifest.durationMs), args.headSec, args.byteBudget)
  const key = (i: number) => chunkKey(manifest.trackId, manifest.version, quality.bitrate, i)
  const missing = () => head.filter((i) => !cache.has(key(i)))
  /** Chunk -> the peer it was asked of. */
  const asked = new Map<number, string>()
  const aborter = new AbortController()
  let bytes = 0
  let peerSet: PeerSet | undefined
  let unlisten: (() => void) | undefined
  let cancelled = false

  const store = async (i: number, data: Uint8Array) => {
    if (cache.has(key(i))) return
    bytes += data.byteLength
    if (await cache.put(key(i), data)) peerSet?.announceHave(i)
  }

  // Peers are asked for head chunks as they announce them.
  const askPeers = () => {
    if (!peerSet || cancelled) return
    const ask = headRequests({ missing: missing(), asked, peers: peerSet.peers(), holds: (p, i) => holders.get(p)?.has(i) === true }, args)
    for (const { index, peer } of ask) if (peerSet.request(peer, index)) asked.set(index, peer)
  }
  const holders = new Map<string, Set<number>>()

  if (args.network) {
    const held = () => cache.heldChunks(manifest.trackId, manifest.version, quality.bitrate)
    peerSet = await args.network.join(
      swarmQuality(manifest, quality),
      { held, get: (i) => cache.get(key(i)) },
      // What is left to fetch: a swarm whose first joiner this is keeps its rule, so it must
      // reach 0 once every chunk is cached (a holder then stops offering).
      () => Math.max(0, quality.byteLength - held().size * quality.chunkSize),
    )
    unlisten = peerSet.listen({
      onPeer: (p, holds) => {
        holders.set(p, new Set(holds))
        askPeers()
      },
      onHave: (p, i) => {
        let h = holders.get(p)
        if (!h) {
          h = new Set()
          holders.set(p, h)
        }
        h.add(i)
        askPeers()
      },
      onReject: (i, p) => {
        // Not asked of that peer again: it does not hold it, or will not serve it now.
        holders.get(p)?.delete(i)
        asked.delete(i)
        askPeers()
      },
      onPeerGone: (p) => {
        holders.delete(p)
        for (const [i, q] of asked) if (q === p) asked.delete(i)
        askPeers()
      },
      onChunk: (i, data) => {
        void store(i, data).then(() => {
          asked.delete(i)
          askPeers()
        })
      },
    })
  }

  return {
    trackId: args.trackId,
    manifest,
    quality,
    key: args.key,
    get bytes() {
      return bytes
    },
    headChunks: head,
    async fromEdge() {
      await Promise.all(
        missing().map((i) =>
          edge
            .chunk({ trackId: manifest.trackId, version: manifest.version, bitrate: quality.bitrate, index: i, hash: quality.hashes[i]! }, aborter.signal)
            .then((data) => store(i, data))
            .catch(() => {}),
        ),
      )
    },
    complete: () => missing().length === 0,
    cancel() {
      if (cancelled) return
      cancelled = true
      aborter.abort()
      unlisten?.()
      // Let go of the swarm a little later: a prefetch is retired as its track starts, and the
      // playback joins the same swarm meanwhile, keeping the peers the prefetch connected to.
      const joined = peerSet
      if (joined && args.network) setTimeout(() => args.network!.leave(joined.infoHash), LEAVE_AFTER_MS).unref?.()
    },
  }
}
