import { MAX_BATCH_KEYS, type Manifest, type QualityManifest, importTrackKey } from '../../protocol/index.js'
import type { WebSocketConstructor } from './p2p/tracker-client.js'
import { type ChunkCache, chunkKey, createChunkCache, keyLeaseKey, manifestKey } from './cache/chunk-cache.js'
import { createMemoryStorage } from './cache/memory-storage.js'
import type { CacheStorageBackend } from './cache/types.js'
import { type HabitsState, type PlayContext, createHabits } from './core/habits.js'
import { DEFAULT_KEY_TTL_SEC, DEFAULT_KEYS_RENEWED, decodeLease, encodeLease, keysToRenew, leaseKey } from './core/key-lease.js'
import type { ConnectionRules } from './core/peer-connections.js'
import { type Privacy, iceKinds, privacyOf } from './core/privacy.js'
import { DEFAULT_SCHEDULER_CONFIG, type SchedulerConfig } from './core/scheduler.js'
import { DEFAULT_SEEDING_RULES, pickCacheSeeds, releaseSeed } from './core/seeding.js'
import type { TrackTiming } from './core/transition.js'
import { type CatalogEntry, createEdgeClient } from './edge-client.js'
import { createEmitter } from './emitter.js'
import { ChorusError } from './errors.js'
import { type TrackKey, createKeyService } from './key-service.js'
import { type Network, type NetworkStats, createNetwork } from './p2p/network.js'
import type { SimplePeerLike } from './p2p/peer-link.js'
import { swarmQuality } from './p2p/peer-set.js'
import { DEFAULT_UPLOAD_LIMITS, type UploadLimits } from './p2p/uploads.js'
import { type InnerPlayback, JOIN_AFTER_MS, type PlaybackEvents, type PlaybackStats, createPlayback } from './playback.js'
import { type Prefetched, prefetchHead } from './prefetch.js'
import { DEFAULT_PREFETCH_RULES, type PrefetchRules, prefetchPlan } from './core/prefetch-plan.js'
import { type StartFacts, type StartPath, startPath } from './core/start-path.js'
import { type QualityChoice, chooseQuality } from './quality.js'

/**
 * createClient: the SDK's public surface, runtime-neutral. index.ts (Node) and index.browser.ts
 * fill in the platform: WebSocket, simple-peer and its WebRTC, and where the cache lives.
 */
export interface ClientOptions {
  /** The edge's base URL, e.g. http://127.0.0.1:8787. */
  edge: string
  /** The tracker's WebSocket URL; without one the client plays without peers. */
  tracker?: string
  /**
   * The key service's base URL (the origin today), required: session tokens, track keys and,
   * unless `publicKey` is given, the manifest-signing key come from here and never pass through
   * the edge (which neither holds keys nor proxies them: a caching edge must never see one).
   */
  keys: string
  /** An app's API key, exchanged for session tokens at the key service (POST /v1/session). */
  apiKey?: string
  /** Or a session token the app obtained itself. */
  token?: string
  /** The origin's manifest-signing public key (base64url): the normal way to trust manifests. Without it the key service is asked once. */
  publicKey?: string
  /**
   * How long track keys are held after the key service gave them (default an hour), in memory
   * and beside the cached chunks, so a cached track replays without the network, in this client
   * or the next on this device (core/key-lease.ts: the trade-off). false: memory only, for this
   * client's life, never written anywhere. `renew`: how many of the cached tracks used last have
   * their keys renewed in one request once the first audio is out, where no lease runs (default
   * and at most 64; 0: none), so that they play without waiting on the key service.
   */
  keyCache?: { ttlSec?: number; renew?: number } | false
  /** The local cache: its size in bytes (default 256 MiB), and in Node its directory. */
  cache?: { maxBytes?: number; dir?: string } | false
  /**
   * Serving others (see the README's table for defaults): peers served at once, requests one peer
   * may have outstanding, a rate cap in bytes/s, and the ratio rule (upload at most `ratio` x
   * download over `windowMs`, plus `allowanceBytes`); or false for download-only.
   */
  upload?: Partial<UploadLimits> | false
  /** false plays from the edge (and cache) alone. */
  p2p?: boolean
  /** STUN and TURN servers for WebRTC (default none: host candidates only). */
  iceServers?: RTCIceServer[]
  /** WebRTC through the TURN server of `iceServers` only: peers and the tracker never see this listener's addresses. */
  relayOnly?: boolean
  /** Something the app should know (once per kind): e.g. `token_expired`. Default: console.warn. */
  onWarning?: (warning: ChorusWarning) => void
  /** The WebRTC implementation for simple-peer (Node: @roamhq/wrtc, the default there). */
  wrtc?: unknown
  /** Where this listener is (region or ASN): the tracker prefers peers of the same network. */
  network?: string
  /** Tuning of the chunk scheduler (core/scheduler.ts): head, urgency window, lookahead, in-flight caps. */
  scheduler?: Partial<SchedulerConfig>
  /** Playback speed of the virtual speaker in Node (1 = real time; 0 = as fast as data comes). */
  speed?: number
  /** Prefetch: heads of up to this many next tracks (3), within this many bytes (4 MiB). */
  prefetch?: { tracks?: number; byteBudget?: number } | false
  /**
   * The fetch for the edge and the key service (default: globalThis.fetch): e.g. one that goes
   * through an app's proxy, or counts requests.
   */
  fetch?: typeof fetch
  /** For tests and benchmarks only, never needed by an app: see ClientTestHooks. */
  testHooks?: ClientTestHooks
}

/**
 * What tests and benchmarks change in a client to emulate a network or watch it; an app never
 * needs them, and they may change from one release to the next. bench/playback uses
 * `peerDelayMs` to put a peer round trip on loopback WebRTC.
 */
export interface ClientTestHooks {
  /** Every incoming peer message is held back this long (ms): half a peer round trip, emulated. */
  peerDelayMs?: number
  /**
   * The connection rules' clock (core/peer-connections.ts): a benchmark that plays audio N times
   * faster than real time divides the idle time and multiplies the offer rate by N, so that a
   * connection lives as many tracks as it would in a real session.
   */
  connections?: Partial<ConnectionRules>
}

/** What index.ts (Node) and index.browser.ts give the runtime-neutral client. */
export interface Platform {
  WebSocket: WebSocketConstructor
  SimplePeer: new (opts: Record<string, unknown>) => SimplePeerLike
  wrtc?: unknown
  storage(options: ClientOptions): CacheStorageBackend
  habits?: { load(): Promise<HabitsState | undefined>; save(state: HabitsState): Promise<void> }
}

export interface PlayOptions {
  /** 'auto' (default: a cached quality, else what the measured throughput carries) or a bitrate. */
  quality?: QualityChoice
  /** Start position in seconds. */
  from?: number
  /** The album or playlist this play belongs to, in order: the next track is prefetched from it. */
  context?: PlayContext
}

/** What a player needs to set up its decoder, known before the first byte of the stream. */
export interface PlaybackMedia {
  /** The quality playing: codec 'aac' (fragmented MP4) or 'mp3' (older catalogs). */
  quality: QualityManifest
  /** For MediaSource.isTypeSupported and addSourceBuffer, e.g. 'audio/mp4; codecs="mp4a.40.2"'. */
  mimeType: string
  /** Gapless data: encoder priming to drop and the real length in samples (core/transition.ts). */
  timing: TrackTiming
}

/** One play of one track, as `client.play()` returns it. */
export interface Playback {
  readonly trackId: string
  /**
   * Decrypted audio, in order. AAC qualities: a fragmented MP4 byte stream, the init segment (a
   * piece of its own) then whole fragments (moof + mdat), a piece never ending inside one; after
   * seek() the init segment comes again, then fragments from the new position. MP3 qualities:
   * the MP3 bytes from the chunk holding the start time.
   */
  readonly stream: ReadableStream<Uint8Array>
  /** The quality, its MIME type and its gapless timing; resolves before the stream's first byte, rejects as `ready` does. */
  readonly media: Promise<PlaybackMedia>
  /** Resolves when audio starts; rejects with a ChorusError when the track cannot play. */
  readonly ready: Promise<PlaybackEvents['start']>
  /** Subscribes to start, stall, resume, quality, end or error; returns the unsubscribe. */
  on<K extends keyof PlaybackEvents>(event: K, fn: (payload: PlaybackEvents[K]) => void): () => void
  /** Undefined until the manifest is here and the playback has begun. */
  stats(): PlaybackStats | undefined
  /** Moves the playhead (seconds); before the playback has begun, it starts there. */
  seek(seconds: number): void
  /** The audio element's position, where a page plays the stream (browsers). */
  reportPosition(seconds: number): void
  /** Ends the playback: the stream ends, chunks in flight are cancelled; the swarm stays joined to serve others (unless download-only). */
  stop(): void
  /** The track's verified manifest; rejects as `ready` does. */
  readonly manifest: Promise<Manifest>
}

/** Something the app should know that is not an error of one playback (each kind once per client). */
export interface ChorusWarning {
  code: 'token_expired' | 'no_candidates' | string
  message: string
}

/** `client.stats()`: the session's plays and prefetches, its cache, and its place in the peer network. */
export interface ClientStats {
  plays: number
  prefetchedPlays: number
  prefetchedBytes: number
  prefetchedBytesUnused: number
  cacheBytes: number
  /** What this listener shares with peers: 'off', 'download-only', 'relay-only' or 'direct' (core/privacy.ts). */
  privacy: Privacy
  /** Undefined without P2P. */
  network: NetworkStats | undefined
}

/** The SDK's client: `createClient(options)` in index.ts (Node) and index.browser.ts. */
export interface ChorusClient {
  /**
   * Starts playing `trackId` at once, stopping the current playback; returns before any byte
   * comes (`ready`, `media` and the stream follow). Throws `closed` after close().
   */
  play(trackId: string, options?: PlayOptions): Playback
  /** The tracks coming next, in order; the first (`prefetch.tracks` of them) is prefetched as the current one ends (prefetches of tracks dropped from it stop). */
  queue(trackIds: string[]): void
  /** The edge's catalog (titles to show; every manifest is still verified when played). */
  catalog(): Promise<CatalogEntry[]>
  stats(): ClientStats
  /** Stops playback, leaves every swarm, closes the tracker connection; once it resolves, the cache is left alone. Idempotent. */
  close(): Promise<void>
}

export async function createClientWith(platform: Platform, options: ClientOptions): Promise<ChorusClient> {
  if (!options || typeof options.edge !== 'string' || !/^https?:\/\//.test(options.edge)) {
    throw new ChorusError('bad_option', 'createClient needs { edge: "http(s)://..." }')
  }
  if (options.tracker !== undefined && !/^wss?:\/\//.test(options.tracker)) throw new ChorusError('bad_option', 'tracker must be a ws:// or wss:// URL')
  // No fallback to the edge: it does not serve sessions or keys, and one that did could hand out its own signing key.
  if (typeof options.keys !== 'string' || !/^https?:\/\//.test(options.keys)) {
    throw new ChorusError('bad_option', 'createClient needs { keys: "http(s)://..." }: the key service (the origin), for session tokens and track keys; they never go through the edge')
  }
  if (options.upload) {
    for (const [k, v] of Object.entries(options.upload)) {
      if (typeof v !== 'number' || Number.isNaN(v) || v < 0) throw new ChorusError('bad_option', `upload.${k} must be a number >= 0`)
    }
  }
  const ice = iceKinds(options.iceServers ?? [])
  if (options.relayOnly && !ice.turn) throw new ChorusError('bad_option', 'relayOnly needs a TURN server in iceServers (turn: or turns: URL)')
  const now = () => performance.now()
  const warned = new Set<string>()
  const warn = (w: ChorusWarning) => {
    if (warned.has(w.code)) return
    warned.add(w.code)
    ;(options.onWarning ?? ((x: ChorusWarning) => console.warn(`chorus: ${x.message}`)))(w)
  }
  const keyService = createKeyService({
    base: options.keys,
    ...(options.fetch && { fetch: options.fetch }),
    ...(options.apiKey && { apiKey: options.apiKey }),
    ...(options.token && { token: options.token }),
    ...(options.publicKey && { publicKey: options.publicKey }),
  })
  // Set once the network exists: edge chunks count as downloaded for the upload budget.
  let network: Network | undefined
  const edge = createEdgeClient({
    edge: options.edge,
    verifier: keyService.verifier,
    // Held tokens, renewed in the background as they near expiry (chunk requests never wait for a session).
    token: () => {
      if (options.apiKey) keyService.tokens().catch(() => {})
      return keyService.edgeToken()
    },
    onChunkBytes: (bytes) => network?.downloaded(bytes),
    ...(options.fetch && { fetch: options.fetch }),
  })
  const cacheOptions = options.cache === false ? { maxBytes: 0 } : (options.cache ?? {})
  const cache: ChunkCache = await createChunkCache({
    storage: options.cache === false ? createMemoryStorage() : platform.storage(options),
    maxBytes: cacheOptions.maxBytes ?? 256 * 1024 * 1024,
  })
  const schedulerConfig: SchedulerConfig = { ...DEFAULT_SCHEDULER_CONFIG, ...options.scheduler }
  const p2p = options.p2p !== false && options.tracker !== undefined && schedulerConfig.p2p
  schedulerConfig.p2p = p2p
  const privacy = privacyOf({ p2p, uploads: options.upload !== false, relayOnly: options.relayOnly === true, stun: ice.stun })
  network = p2p
    ? createNetwork({
        tracker: options.tracker!,
        WebSocket: platform.WebSocket,
        SimplePeer: platform.SimplePeer,
        wrtc: options.wrtc ?? platform.wrtc,
        ...(options.iceServers && { iceServers: options.iceServers }),
        ...(options.relayOnly && { relayOnly: true }),
        ...(options.network && { network: options.network }),
        uploads: options.upload === false ? false : { ...DEFAULT_UPLOAD_LIMITS, ...options.upload },
        ...(options.testHooks?.peerDelayMs !== undefined && { peerDelayMs: options.testHooks.peerDelayMs }),
        ...(options.testHooks?.connections && { connections: options.testHooks.connections }),
        token: async (fresh) => (options.apiKey || options.token ? (await keyService.tokens({ fresh })).tracker : undefined),
        onWarning: (w) => warn(w),
      })
    : undefined
  const habits = createHabits(await platform.habits?.load().catch(() => undefined))
  const prefetchRules: PrefetchRules = {
    ...DEFAULT_PREFETCH_RULES,
    tracks: options.prefetch === false ? 0 : (options.prefetch?.tracks ?? DEFAULT_PREFETCH_RULES.tracks),
    byteBudget: options.prefetch === false ? 0 : (options.prefetch?.byteBudget ?? DEFAULT_PREFETCH_RULES.byteBudget),
  }
  /** undefined: loading. */
  const prefetched = new Map<string, Prefetched | undefined>()
  let heardFirstAudio!: () => void
  /** The first audio of this client's first play (seeding waits for it: see the end). */
  const firstAudio = new Promise<void>((resolve) => {
    heardFirstAudio = resolve
  })
  const seeding: string[] = []
  let throughput: number | undefined
  let upcoming: string[] = []
  let current: { playback: InnerPlayback; context?: PlayContext } | undefined
  let lastTrack: string | undefined
  let closed = false
  const counters = { plays: 0, prefetchedPlays: 0, prefetchedBytes: 0, prefetchedBytesUnused: 0 }
  const watch = setInterval(checkPrefetch, 500)
  ;(watch as { unref?: () => void }).unref?.()

  // Swarms this client keeps serving with nothing to play in them, one join each (core/seeding.ts).
  function release(infoHash: string): void {
    const r = releaseSeed(seeding, infoHash, options.upload !== false, DEFAULT_SEEDING_RULES)
    seeding.splice(0, seeding.length, ...r.seeding)
    if (r.dropJoin) network?.leave(infoHash)
    for (const evicted of r.evicted) network?.leave(evicted)
  }

  /**
   * A new client serves the tracks it holds whole without waiting to play them again: it joins
   * their swarms as a holder (no offers of its own; seekers offer to it). Listeners' caches are
   * most of what a swarm holds, and a session only plays a few of them.
   */
  async function seedFromCache(): Promise<void> {
    if (!network || options.upload === false) return
    const pick = pickCacheSeeds<{ s: { trackId: string; version: string; bitrate: number }; m: Manifest; q: Manifest['qualities'][number] }>(DEFAULT_SEEDING_RULES)
    for (const s of cache.recentQualities(pick.candidates)) {
      if (!pick.wanted()) break
      let m: Manifest
      const doc = await cache.get(manifestKey(s.trackId))
      if (!doc) continue
      try {
        m = await edge.verifyManifestDoc(JSON.parse(new TextDecoder().decode(doc)), { trackId: s.trackId, version: s.version })
      } catch {
        continue
      }
      const q = m.qualities.find((x) => x.bitrate === s.bitrate)
      if (q) pick.consider({ s, m, q }, cache.heldChunks(s.trackId, s.version, s.bitrate).size >= q.chunkCount)
    }
    for (const { s, m, q } of pick.joinOrder()) {
      if (closed) return
      const held = () => cache.heldChunks(s.trackId, s.version, s.bitrate)
      const peerSet = await network.join(swarmQuality(m, q), { held, get: (i) => cache.get(chunkKey(s.trackId, s.version, s.bitrate, i)) }, () => Math.max(0, q.byteLength - held().size * q.chunkSize))
      if (closed) return
      release(peerSet.infoHash)
    }
  }

  const kbpsHint = (choice: QualityChoice | undefined): number | undefined => {
    if (typeof choice === 'number') return Math.max(1, Math.min(999, Math.floor(choice)))
    // 'auto': the highest bitrate the throughput carries twice over (quality.ts), as a cap.
    return throughput === undefined ? undefined : Math.max(1, Math.min(999, Math.floor((throughput * 8) / 1000 / 2)))
  }

  /**
   * The manifest in the cache when some quality of it is cached too: a cached track starts from
   * what this device holds, without waiting on the network; the edge is asked meanwhile, and a
   * newer version found there is what the next play takes. The cache is checked as the edge is.
   */
  async function cachedManifest(trackId: string): Promise<Manifest | undefined> {
    const doc = await cache.get(manifestKey(trackId))
    if (!doc) return undefined
    let m: Manifest
    try {
      m = await edge.verifyManifestDoc(JSON.parse(new TextDecoder().decode(doc)), { trackId })
    } catch {
      return undefined
    }
    if (cachedBitrates(m).length === 0) return undefined
    if (!versions.has(trackId)) versions.set(trackId, m.version)
    void loadManifest(trackId).catch(() => {})
    return m
  }

  async function loadManifest(trackId: string): Promise<Manifest> {
    try {
      const { manifest, doc } = await edge.manifest(trackId)
      versions.set(trackId, manifest.version)
      if (versions.size > 10_000) versions.delete(versions.keys().next().value!)
      void cache.put(manifestKey(trackId), new TextEncoder().encode(JSON.stringify(doc)))
      return manifest
    } catch (err) {
      // The edge unreachable: a track we have played before still plays from cache and peers.
      if (!(err instanceof ChorusError) || err.code !== 'all_sources_down') throw err
      const cached = await cache.get(manifestKey(trackId))
      if (!cached) throw err
      let doc: unknown
      try {
        doc = JSON.parse(new TextDecoder().decode(cached))
      } catch {
        throw err
      }
      // The cache is checked as the edge is: signed, and the manifest of this track.
      return edge.verifyManifestDoc(doc, { trackId })
    }
  }

  // Track keys: held for their lease (core/key-lease.ts) in memory and, unless the app said no,
  // beside the cached chunks; with keyCache: false, in memory for this client's life only.
  const keyTtlMs = options.keyCache === false ? Number.POSITIVE_INFINITY : Math.max(0, options.keyCache?.ttlSec ?? DEFAULT_KEY_TTL_SEC) * 1000
  const persistKeys = options.keyCache !== false && options.cache !== false
  const keys = new Map<string, { key: Promise<CryptoKey>; expiresAt: number }>()
  // The version of each track whose manifest this client has seen: its key may be here already.
  const versions = new Map<string, string>()
  function remember(trackId: string, version: string, key: Promise<CryptoKey>, expiresAt: number): Promise<CryptoKey> {
    const id = `${trackId}/${version}`
    const entry = { key, expiresAt }
    keys.set(id, entry)
    key.catch(() => keys.get(id) === entry && keys.delete(id))
    if (keys.size > 500) keys.delete(keys.keys().next().value!)
    return key
  }
  /** A key the key service gave: held for its lease, and written down when leases are kept. */
  function hold(trackId: string, k: TrackKey): CryptoKey {
    const lease = leaseKey(k.raw, Date.now(), keyTtlMs)
    remember(trackId, k.version, Promise.resolve(k.key), lease.expiresAt)
    if (persistKeys) void cache.put(keyLeaseKey(trackId, k.version), encodeLease(lease))
    return k.key
  }
  function heldKey(trackId: string, version: string): Promise<CryptoKey> | undefined {
    const entry = keys.get(`${trackId}/${version}`)
    if (entry && Date.now() < entry.expiresAt) return entry.key
    return undefined
  }
  // Once the first audio is out (beside the seeding), the keys of the cached tracks used last that
  // hold no running lease are asked for in one request (core/key-lease.ts keysToRenew): a cached
  // track played in this session then waits on nothing, however long ago its lease ran out.
  const renewLimit = Math.min(MAX_BATCH_KEYS, Math.max(0, Math.floor((options.keyCache === false ? undefined : options.keyCache?.renew) ?? DEFAULT_KEYS_RENEWED)))
  async function renewCachedKeys(): Promise<void> {
    if (renewLimit === 0 || (!options.apiKey && !options.token)) return
    const recent = new Map<string, string>()
    for (const q of cache.recentQualities(4 * renewLimit)) if (!recent.has(q.trackId)) recent.set(q.trackId, q.version)
    const wanted: string[] = []
    for (const id of keysToRenew(recent.keys(), renewLimit, (id) => heldKey(id, recent.get(id)!) !== undefined)) {
      // A lease still running is read instead (and held from now on).
      if (!(await storedKey(id, recent.get(id)!).catch(() => undefined))) wanted.push(id)
    }
    if (wanted.length === 0 || closed) return
    for (const k of await keyService.currentKeys(wanted)) if (!heldKey(k.trackId, k.version)) hold(k.trackId, k)
  }
  /** A lease written by this client or an earlier one on this device, while it runs. */
  async function storedKey(trackId: string, version: string): Promise<CryptoKey | undefined> {
    if (!persistKeys) return undefined
    const bytes = await cache.get(keyLeaseKey(trackId, version))
    if (!bytes) return undefined
    const lease = decodeLease(bytes, Date.now())
    if (!lease) {
      void cache.delete(keyLeaseKey(trackId, version))
      return undefined
    }
    const key = await importTrackKey(lease.key)
    remember(trackId, version, Promise.resolve(key), lease.expiresAt)
    return key
  }
  function trackKey(trackId: string, version: string): Promise<CryptoKey> {
    return (
      heldKey(trackId, version) ??
      remember(trackId, version, (async () => (await storedKey(trackId, version)) ?? hold(trackId, await keyService.trackKey(trackId, version)))(), Number.POSITIVE_INFINITY)
    )
  }

  /**
   * The current version's key, asked for alongside the head when the start path says so (the key
   * service puts it in the session request when that has not left yet).
   */
  function earlyKey(trackId: string, path: StartPath): Promise<TrackKey> | undefined {
    if (path.key !== 'session' && path.key !== 'request') return undefined
    const early = keyService.currentKey(trackId)
    early.then(
      (r) => void (heldKey(trackId, r.version) || hold(trackId, r)),
      () => {},
    )
    return early
  }

  /** The key for the manifest's version: the early answer when it names that version (a re-ingest in between does not), else asked for now. */
  function keyFor(trackId: string, version: string, early: Promise<TrackKey> | undefined): Promise<CryptoKey> {
    if (!early) return trackKey(trackId, version)
    return early.then(
      (r) => (r.version === version ? r.key : trackKey(trackId, version)),
      () => trackKey(trackId, version),
    )
  }

  const cachedBitrates = (m: Manifest) => m.qualities.filter((q) => cache.has(chunkKey(m.trackId, m.version, q.bitrate, 0))).map((q) => q.bitrate)

  /** Carries out the prefetch rules (core/prefetch-plan.ts) for the current playback. */
  function checkPrefetch(): void {
    if (!current || closed) return
    const s = current.playback.stats()
    const { trackId, manifest } = current.playback
    const context = current.context
    const actions = prefetchPlan(
      {
        started: Boolean(s.timeToFirstAudioMs),
        remainingMs: manifest.durationMs - s.positionMs,
        queue: upcoming,
        predict: (n) => habits.predict(trackId, context, n),
        held: (id) => {
          if (!prefetched.has(id)) return undefined
          const p = prefetched.get(id)
          return p ? { headBytes: p.headChunks.length * p.quality.chunkSize, complete: p.complete() } : 'loading'
        },
      },
      prefetchRules,
    )
    for (const a of actions) {
      if (a.type === 'edge') {
        void prefetched.get(a.id)?.fromEdge()
        continue
      }
      const id = a.id
      prefetched.set(id, undefined) // loading: one prefetch per track
      void (async () => {
        const manifest = await loadManifest(id)
        const quality = chooseQuality(manifest, 'auto', throughput, cachedBitrates(manifest))
        const key = trackKey(id, manifest.version)
        key.catch(() => {})
        const p = await prefetchHead({ trackId: id, manifest, quality, key, headSec: schedulerConfig.headSec, perPeer: prefetchRules.perPeer, edge, cache, network, byteBudget: a.byteBudget })
        // Played, dropped from the queue, or the client closed while it loaded: not wanted any more.
        if (closed || !prefetched.has(id)) return retire(p, false)
        prefetched.set(id, p)
      })().catch(() => prefetched.delete(id))
    }
  }

  function retire(p: Prefetched | undefined, used: boolean): void {
    if (!p) return
    p.cancel()
    counters.prefetchedBytes += p.bytes
    if (!used) counters.prefetchedBytesUnused += p.bytes
  }

  function play(trackId: string, playOptions: PlayOptions = {}): Playback {
    if (closed) throw new ChorusError('closed', 'the client is closed')
    const startedAt = now()
    const events = createEmitter<PlaybackEvents>()
    const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>()
    let inner: InnerPlayback | undefined
    let stopped = false
    let pendingSeek: number | undefined
    let resolveReady!: (v: PlaybackEvents['start']) => void
    let rejectReady!: (e: unknown) => void
    const ready = new Promise<PlaybackEvents['start']>((res, rej) => {
      resolveReady = res
      rejectReady = rej
    })
    ready.catch(() => {})
    events.on('start', resolveReady)
    events.on('start', () => heardFirstAudio())
    events.on('error', rejectReady)

    let resolveMedia!: (m: PlaybackMedia) => void
    let rejectMedia!: (e: unknown) => void
    const media = new Promise<PlaybackMedia>((res, rej) => {
      resolveMedia = res
      rejectMedia = rej
    })
    media.catch(() => {})

    const manifest = (async () => {
      const pre = prefetched.get(trackId)
      prefetched.delete(trackId)
      // What to ask for, at once (core/start-path.ts). Nothing is awaited before the key is asked:
      // a play begun right after createClient has its key ride in the session request, which
      // leaves a turn of the event loop later.
      const facts = (manifestCached: boolean): StartFacts => {
        const seen = versions.get(trackId)
        return {
          prefetched: pre !== undefined,
          cachedManifest: manifestCached,
          keyHeld: seen !== undefined && heldKey(trackId, seen) !== undefined,
          sessionBoarding: keyService.boarding(trackId),
          fromStart: (playOptions.from ?? 0) <= 0,
        }
      }
      let path = startPath(facts(cache.has(manifestKey(trackId))))
      let early = earlyKey(trackId, path)
      const local = path.manifest === 'local' ? await cachedManifest(trackId) : undefined
      // The cached manifest did not verify, or no quality of it is cached any more: a cold start.
      if (path.manifest === 'local' && !local) {
        path = startPath(facts(false))
        early = earlyKey(trackId, path)
      }
      const head =
        path.manifest !== 'head'
          ? undefined
          : await edge.head(trackId, kbpsHint(playOptions.quality)).catch((err: unknown) => {
              // A forged head is refused as a forged manifest is; anything else (an edge without
              // the route, an unknown track, the edge unreachable) goes the manifest's way.
              if (err instanceof ChorusError && (err.code === 'invalid_manifest' || err.code === 'stopped')) throw err
              return undefined
            })
      if (head) {
        versions.set(trackId, head.manifest.version)
        void cache.put(manifestKey(trackId), new TextEncoder().encode(JSON.stringify(head.doc)))
      }
      // Without a head (an edge that has none, or a play from elsewhere in the track): the manifest.
      const m = pre?.manifest ?? local ?? head?.manifest ?? (await loadManifest(trackId))
      const quality = head ? head.quality : pre && playOptions.quality === undefined ? pre.quality : chooseQuality(m, playOptions.quality ?? 'auto', throughput, cachedBitrates(m))
      const key = pre?.key ?? keyFor(trackId, m.version, early)
      key.catch(() => {})
      const wasPrefetched = pre !== undefined && cache.has(chunkKey(m.trackId, m.version, quality.bitrate, 0))
      retire(pre, wasPrefetched)
      if (stopped) throw new ChorusError('stopped', 'stopped before it started')
      current?.playback.stop()
      inner = createPlayback(
        { trackId, manifest: m, quality, key, fromMs: (playOptions.from ?? 0) * 1000, startedAt, prefetched: wasPrefetched, ...(head && { chunks: head.chunks }) },
        {
          edge,
          cache,
          network,
          scheduler: schedulerConfig,
          now,
          speed: options.speed ?? 1,
          tickMs: 100,
          onEdgeThroughput: (bps) => {
            throughput = throughput === undefined ? bps : throughput * 0.7 + bps * 0.3
          },
          release,
        },
      )
      resolveMedia({ quality: inner.quality, mimeType: inner.mimeType, timing: inner.timing })
      current = { playback: inner, ...(playOptions.context && { context: playOptions.context }) }
      counters.plays++
      if (wasPrefetched) counters.prefetchedPlays++
      if (lastTrack && lastTrack !== trackId) {
        habits.record(lastTrack, trackId)
        void platform.habits?.save(habits.toJSON()).catch(() => {})
      }
      lastTrack = trackId
      upcoming = upcoming.filter((id) => id !== trackId)
      for (const name of ['start', 'stall', 'resume', 'quality', 'end', 'error'] as const) {
        const forward = inner.on as (event: keyof PlaybackEvents, fn: (payload: unknown) => void) => void
        forward(name, (payload) => events.emit(name, payload as never))
      }
      void inner.stream.pipeTo(writable).catch(() => {})
      if (pendingSeek !== undefined) inner.seek(pendingSeek)
      return m
    })()
    manifest.catch((err: unknown) => {
      const e = err instanceof ChorusError ? err : new ChorusError('internal', String(err), { cause: err })
      rejectMedia(e)
      if (e.code !== 'stopped') events.emit('error', e)
      void writable.abort(e).catch(() => {})
    })

    return {
      trackId,
      stream: readable,
      ready,
      media,
      on: events.on,
      stats: () => inner?.stats(),
      seek(seconds) {
        if (inner) inner.seek(seconds)
        else pendingSeek = seconds
      },
      reportPosition(seconds) {
        inner?.reportPosition(seconds)
      },
      stop() {
        stopped = true
        inner?.stop()
      },
      manifest,
    }
  }

  // Every play needs a key and every key a session: the session is asked for now, not at the
  // first play. Its request leaves a turn of the event loop later, so a play begun right after
  // createClient resolves adds its key to it (key-service.ts).
  if (options.apiKey) keyService.tokens().catch(() => {})
  // After the session is under way (seeding needs the tracker's token, from that same session),
  // and after the first play's first audio or JOIN_AFTER_MS: joining swarms sets off tracker and
  // WebRTC work that would otherwise land on the first cold start's path (playback.ts).
  void Promise.race([firstAudio, new Promise((resolve) => setTimeout(resolve, JOIN_AFTER_MS).unref?.())])
    .then(() => (closed ? undefined : Promise.all([seedFromCache(), renewCachedKeys().catch(() => {})])))
    .catch(() => {})

  return {
    play,
    queue(trackIds) {
      upcoming = [...trackIds]
      for (const [id, p] of prefetched) {
        if (p && !upcoming.includes(id)) {
          retire(p, false)
          prefetched.delete(id)
        }
      }
    },
    catalog: () => edge.catalog(),
    stats() {
      let pending = 0
      for (const p of prefetched.values()) pending += p?.bytes ?? 0
      return {
        ...counters,
        prefetchedBytes: counters.prefetchedBytes + pending,
        cacheBytes: cache.bytes,
        privacy,
        network: network?.stats(),
      }
    },
    async close() {
      if (closed) return
      closed = true
      clearInterval(watch)
      current?.playback.stop()
      for (const p of prefetched.values()) retire(p, false)
      prefetched.clear()
      await network?.close()
      await cache.close()
      await platform.habits?.save(habits.toJSON()).catch(() => {})
    },
  }
}
