import {
  type Manifest,
  type ManifestVerifier,
  ProtocolError,
  type QualityManifest,
  chunkMatches,
  chunkPath,
  decodeHead,
  headPath,
  manifestPath,
  sha256Hex,
  verifySignedManifest,
} from '../../protocol/index.js'
import { ChorusError } from './errors.js'
import { createHttpService } from './http.js'

/**
 * Talks to the edge over HTTP: manifests and chunks, nothing secret. A manifest counts only when
 * the origin's key signed it and it is the manifest of the track (and version) asked for: an
 * edge that answers with another track's signed manifest is refused like a forged one. Chunks
 * are checked against their hash. Keys and session tokens come from the key service
 * (key-service.ts); the edge sees the edge token only.
 */
export interface EdgeClientOptions {
  edge: string
  fetch?: typeof fetch
  timeoutMs?: number
  /** The origin's manifest-signing key (pinned, or from the key service). */
  verifier: () => Promise<ManifestVerifier>
  /** The session's edge token, when one is held (for edges that require one). */
  token?: () => string | undefined
  /** Every chunk's verified bytes (the upload budget counts them as downloaded). */
  onChunkBytes?: (bytes: number) => void
}

interface ChunkRef {
  trackId: string
  version: string
  bitrate: number
  index: number
  hash: string
}

/** What a manifest must be the manifest of. */
interface ManifestExpectation {
  trackId: string
  version?: string
}

/** Verifies a signed manifest document and that it is the one asked for; anything else is `invalid_manifest`. */
async function verifyManifestFor(doc: unknown, v: ManifestVerifier, expect: ManifestExpectation): Promise<Manifest> {
  let manifest: Manifest
  try {
    manifest = await verifySignedManifest(doc, v)
  } catch (err) {
    if (err instanceof ProtocolError) throw new ChorusError('invalid_manifest', err.message, { cause: err })
    throw err
  }
  if (manifest.trackId !== expect.trackId) {
    throw new ChorusError('invalid_manifest', `asked for the manifest of ${expect.trackId} and got the (signed) manifest of ${manifest.trackId.slice(0, 64)}`)
  }
  if (expect.version !== undefined && manifest.version !== expect.version) {
    throw new ChorusError('invalid_manifest', `asked for version ${expect.version} of ${expect.trackId} and got version ${manifest.version.slice(0, 64)}`)
  }
  return manifest
}

/** One entry of the edge's catalog (GET /v1/tracks). */
export interface CatalogEntry {
  trackId: string
  title: string
  artist: string
  album: string
  durationMs: number
  bitrates: number[]
}

/** A verified head: what a cold play starts from. */
interface TrackHead {
  manifest: Manifest
  /** The signed document, as the cache keeps it. */
  doc: unknown
  quality: QualityManifest
  /** Verified chunks of that quality by index, from 0. */
  chunks: Map<number, Uint8Array>
}

/** The edge as the SDK sees it: every answer checked before it is returned. */
export interface EdgeClient {
  /** The edge's base URL, without a trailing slash. */
  readonly base: string
  /** The tracks the edge lists (unsigned: titles to show, not data to trust). */
  catalog(signal?: AbortSignal): Promise<CatalogEntry[]>
  /** The verified manifest of `trackId` (its current version, or `version`) and its raw document (what a cache keeps); `invalid_manifest` when the signature or the track does not match. */
  manifest(trackId: string, signal?: AbortSignal, version?: string): Promise<{ manifest: Manifest; doc: unknown }>
  /**
   * A track's head (protocol/src/head.ts): its current manifest, verified as `manifest()` verifies
   * one, the quality the edge picked for `kbps` and the chunks of its first audio, each checked
   * against the manifest's hash (chunks that fail are dropped: the player fetches them again).
   */
  head(trackId: string, kbps: number | undefined, signal?: AbortSignal): Promise<TrackHead>
  /** A manifest document from elsewhere (the cache), checked as one from the edge is. */
  verifyManifestDoc(doc: unknown, expect: ManifestExpectation): Promise<Manifest>
  /** One encrypted chunk, checked against its hash; a mismatch is an error, never returned bytes. */
  chunk(ref: ChunkRef, signal?: AbortSignal): Promise<Uint8Array>
}

export function createEdgeClient(options: EdgeClientOptions): EdgeClient {
  const http = createHttpService({ base: options.edge, name: 'edge', ...(options.fetch && { fetch: options.fetch }), ...(options.timeoutMs !== undefined && { timeoutMs: options.timeoutMs }) })

  return {
    base: http.base,
    async catalog(signal) {
      const res = await http.request('/v1/tracks', {}, signal)
      if (!res.ok) throw await http.failure(res, 'catalog')
      return ((await res.json()) as { tracks: [] }).tracks
    },
    async manifest(trackId, signal, version) {
      const [res, v] = await Promise.all([http.request(manifestPath(trackId, version), {}, signal), options.verifier()])
      if (!res.ok) throw await http.failure(res, `manifest of ${trackId}`)
      let doc: unknown
      try {
        doc = await res.json()
      } catch (err) {
        throw new ChorusError('invalid_manifest', `the manifest of ${trackId} is not JSON`, { cause: err })
      }
      return { manifest: await verifyManifestFor(doc, v, { trackId, ...(version !== undefined && { version }) }), doc }
    },
    async head(trackId, kbps, signal) {
      const headers: Record<string, string> = {}
      const token = options.token?.()
      if (token) headers.authorization = `Bearer ${token}`
      const [res, v] = await Promise.all([http.request(headPath(trackId, kbps), { headers }, signal), options.verifier()])
      if (!res.ok) throw await http.failure(res, `head of ${trackId}`)
      let decoded: ReturnType<typeof decodeHead>
      try {
        decoded = decodeHead(new Uint8Array(await res.arrayBuffer()))
      } catch (err) {
        throw new ChorusError('invalid_manifest', `the head of ${trackId}: ${(err as Error).message}`, { cause: err })
      }
      // The chunks' digests are taken while the signature is checked (both on a cold start's
      // path); they are compared with the manifest's hashes once it is verified, never before.
      const digests = decoded.chunks.map((bytes) => sha256Hex(bytes))
      for (const d of digests) d.catch(() => {})
      const manifest = await verifyManifestFor(decoded.manifest, v, { trackId })
      const quality = manifest.qualities.find((q) => q.bitrate === decoded.bitrate)
      if (!quality) throw new ChorusError('invalid_manifest', `the head of ${trackId} carries a quality its manifest does not list`)
      const chunks = new Map<number, Uint8Array>()
      for (const [index, bytes] of decoded.chunks.entries()) {
        const hash = quality.hashes[index]
        if (hash === undefined || (await digests[index]) !== hash) break
        chunks.set(index, bytes)
        options.onChunkBytes?.(bytes.byteLength)
      }
      return { manifest, doc: decoded.manifest, quality, chunks }
    },
    async verifyManifestDoc(doc, expect) {
      return verifyManifestFor(doc, await options.verifier(), expect)
    },
    async chunk(ref, signal) {
      const headers: Record<string, string> = {}
      const token = options.token?.()
      if (token) headers.authorization = `Bearer ${token}`
      const res = await http.request(chunkPath(ref), { headers }, signal)
      if (!res.ok) throw await http.failure(res, `chunk ${ref.index}`)
      const bytes = new Uint8Array(await res.arrayBuffer())
      if (!(await chunkMatches(bytes, ref.hash))) throw new ChorusError('all_sources_down', `chunk ${ref.index} from the edge failed its hash check`)
      options.onChunkBytes?.(bytes.byteLength)
      return bytes
    },
  }
}
