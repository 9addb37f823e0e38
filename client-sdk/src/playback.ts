import { type Manifest, type QualityManifest, type StartPoint, chunkMatches, decryptChunk, fromBase64Url, mediaType, playableUntilMs, startPoint } from '../../protocol/index.js'
import { type ChunkCache, chunkKey } from './cache/chunk-cache.js'
import { type Action, type ChunkLayout, type SchedulerConfig, type Source, createScheduler, qualityLayout } from './core/scheduler.js'
import { createSpeaker } from './core/speaker.js'
import { type TrackTiming, trackTiming } from './core/transition.js'
import type { EdgeClient } from './edge-client.js'
import { createEmitter } from './emitter.js'
import { ChorusError } from './errors.js'
import type { Network } from './p2p/network.js'
import { type PeerSet, swarmQuality } from './p2p/peer-set.js'

/**
 * The swarm is joined once the first audio is out, or this long after the start without it (the
 * edge slow or failing: peers may help then). Joining sets off tracker and WebRTC work (a new
 * RTCPeerConnection holds the event loop for milliseconds) that would otherwise land between a
 * cold start's answers and its first audio: 12 ms at the median against 5 with P2P off, in the
 * playback benchmark. Peers serve chunks seconds ahead, which lose nothing by it.
 */
export const JOIN_AFTER_MS = 1000

/**
 * One track being played: the scheduler's decisions carried out. Chunks come from the cache,
 * the edge or peers; each is verified against the signed manifest before it is cached, shared
 * or decrypted; decrypted audio leaves in order through `stream`. A virtual speaker (or the
 * page's audio element, through reportPosition) moves the playhead and counts stalls.
 *
 * What the stream carries depends on the quality's container:
 * - MP4 (AAC): a fragmented MP4 byte stream. The init segment (from the manifest) comes first,
 *   as a piece of its own, then whole media fragments (moof + mdat) from the fragment at or
 *   before the start time; a piece never ends inside a fragment. After seek() the stream goes
 *   on with the init segment again (a piece of its own) and whole fragments from the new
 *   position: what came before it is whole fragments, so each restart is a valid fMP4 stream.
 *   From the start of the track, init + the rest is the complete file.
 * - MP3 (older catalogs): the MP3 bytes from the chunk holding the start time; after seek()
 *   the bytes go on from the chunk holding the new time (the decoder resyncs on its own).
 */
export interface PlaybackEvents {
  start: { timeToFirstAudioMs: number; fromCache: boolean; prefetched: boolean }
  stall: { atMs: number }
  resume: { stalledMs: number }
  quality: { bitrate: number; reason: string }
  end: { stats: PlaybackStats }
  error: ChorusError
}

/** A playback's figures now (and at its end, in the `end` event). */
export interface PlaybackStats {
  trackId: string
  version: string
  bitrate: number
  timeToFirstAudioMs: number | null
  stalls: number
  stalledMs: number
  bytes: { cache: number; peer: number; edge: number }
  peersConnected: number
  chunksRejected: number
  prefetched: boolean
  positionMs: number
  bufferAheadMs: number
  ended: boolean
}

/** What a playback is given by its client: its sources, its clock and where to report. */
export interface PlaybackDeps {
  edge: EdgeClient
  cache: ChunkCache
  network: Network | undefined
  scheduler: SchedulerConfig
  now: () => number
  /** Virtual speaker speed (1 = real time); 0 drains the stream as fast as it can be filled. */
  speed: number
  tickMs: number
  /** Reports the edge's measured throughput (bytes/s) to the client, for 'auto' quality. */
  onEdgeThroughput?: (bytesPerSecond: number) => void
  /** The swarm is kept after the playback ends (to serve others) unless this says no. */
  release?: (infoHash: string) => void
}

/** What to play: the verified manifest, the chosen quality, the key (maybe still on its way) and where to start. */
export interface PlaybackInit {
  trackId: string
  manifest: Manifest
  quality: QualityManifest
  key: Promise<CryptoKey>
  fromMs: number
  startedAt: number
  prefetched: boolean
  /** Chunks verified already, from the edge with the manifest (a track's head): they arrive at once. */
  chunks?: ReadonlyMap<number, Uint8Array>
}

function concat(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0]!
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0))
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.byteLength
  }
  return out
}

/** One track being played (see the top of this file); the client wraps it in the public Playback. */
export interface InnerPlayback {
  readonly trackId: string
  readonly manifest: Manifest
  readonly quality: QualityManifest
  /** For MediaSource.isTypeSupported and addSourceBuffer: 'audio/mp4; codecs="mp4a.40.2"' or 'audio/mpeg'. */
  readonly mimeType: string
  /** Gapless data: the priming samples to drop and the real length (see core/transition.ts). */
  readonly timing: TrackTiming
  /** The audio time the stream's bytes begin at since the start or the last seek (a fragment's or chunk's time, at or before the time asked for). */
  readonly startMs: number
  /** Decrypted audio in order, as described at the top of this file. */
  readonly stream: ReadableStream<Uint8Array>
  /** Subscribes to one event; returns the unsubscribe. */
  on<K extends keyof PlaybackEvents>(event: K, fn: (payload: PlaybackEvents[K]) => void): () => void
  stats(): PlaybackStats
  /**
   * Moves playback to `seconds`: the head window moves there and the stream goes on from the
   * start point for that time (MP4: the init segment again, then the fragment at or before it;
   * MP3: the chunk holding it). Once the whole track has gone out (the stream closed) only
   * the speaker moves: the reader holds every byte already.
   */
  seek(seconds: number): void
  /** The real speaker's position, for pages that play through an audio element. */
  reportPosition(seconds: number): void
  /** Ends it: requests cancelled, the stream closed, the swarm released to the client (see PlaybackDeps.release). */
  stop(): void
  /** Stopped, by stop() or by an error. */
  readonly done: boolean
}

export function createPlayback(init: PlaybackInit, deps: PlaybackDeps): InnerPlayback {
  const { manifest, quality } = init
  const { cache, edge } = deps
  const events = createEmitter<PlaybackEvents>()
  const layout: ChunkLayout = qualityLayout(quality, manifest.durationMs)
  const scheduler = createScheduler(layout, deps.scheduler)
  const speed = deps.speed > 0 ? deps.speed : 1e6
  const clampMs = (ms: number) => Math.max(0, Math.min(Number.isFinite(ms) ? ms : 0, manifest.durationMs))
  /** Where the stream starts (again after each seek): the chunk, the bytes of it to skip, the audio time. */
  let from: StartPoint = startPoint(quality, clampMs(init.fromMs))
  let speaker = createSpeaker({ startMs: from.timeMs, durationMs: manifest.durationMs, speed })
  const bytes = { cache: 0, peer: 0, edge: 0 }
  const encrypted = new Map<number, { data: Uint8Array; source: Source }>()
  const aborter = new AbortController()
  let chunksRejected = 0
  /** The next chunk to decrypt and deliver. */
  let next = from.chunk
  /** Bumped by seek(): a delivery that awaited across a seek is not delivered. */
  let epoch = 0
  const mp4 = quality.codec === 'aac' ? quality : undefined
  const initSegment = mp4 ? fromBase64Url(mp4.init) : undefined
  const fragmentBytes = mp4 ? mp4.fragments.map(([, byte]) => byte) : []
  /** MP4: the init segment goes out before the next media bytes (at the start and after each seek). */
  let initDue = mp4 !== undefined
  /** MP4: decrypted bytes of a fragment not yet whole, held back so a piece never ends inside one. */
  let partial: Uint8Array[] = []
  /** MP4: the byte offset (in the byte string) of the next byte to go out. */
  let byteAt = from.chunk * quality.chunkSize + from.skip
  let ttfa: number | null = null
  let stopped = false
  let ended = false
  let peerSet: PeerSet | undefined
  let unlisten: (() => void) | undefined
  let externalClock = false
  let pumping = false
  let delivering = false
  /** Every byte went out and the stream is closed (a later seek moves the speaker only). */
  let streamClosed = false
  let controller!: ReadableStreamDefaultController<Uint8Array>
  let timer: ReturnType<typeof setInterval> | undefined
  let joinTimer: ReturnType<typeof setTimeout> | undefined

  const stream = new ReadableStream<Uint8Array>(
    {
      start(c) {
        controller = c
      },
      cancel() {
        stop()
      },
    },
    // A few chunks of decrypted audio may wait for the reader; more would only hold memory.
    { highWaterMark: 8 },
  )

  function fail(err: ChorusError): void {
    if (stopped) return
    events.emit('error', err)
    try {
      controller.error(err)
    } catch {}
    shutdown()
  }

  /**
   * Audio delivered without a gap from the start position, in ms: what the speaker can play.
   * With every chunk before `next` delivered that is the start of the frame or fragment chunk
   * `next` begins in (an MP4 stream holds back the rest of that fragment until it is whole).
   */
  const deliveredUntilMs = () => playableUntilMs(quality, next, layout.durationMs)

  /** The start of the last fragment at or before byte `at`: everything before it is whole fragments. */
  function fragmentBoundary(at: number): number {
    if (at >= quality.byteLength) return quality.byteLength
    let lo = 0
    let hi = fragmentBytes.length - 1
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1
      if (fragmentBytes[mid]! <= at) lo = mid
      else hi = mid - 1
    }
    return fragmentBytes[lo]!
  }

  /**
   * The decrypted bytes of chunk `index` (the next in order) go out: all of them for MP3; for
   * MP4 what lies past the start point, up to the last whole fragment, after the init segment
   * when one is due. False when nothing went out yet (a fragment still incomplete).
   */
  function emit(index: number, plain: Uint8Array): boolean {
    if (!mp4) {
      controller.enqueue(plain)
      return true
    }
    const chunkStart = index * quality.chunkSize
    const chunkEnd = chunkStart + plain.byteLength
    partial.push(plain.subarray(Math.max(0, byteAt - chunkStart)))
    const boundary = fragmentBoundary(chunkEnd)
    if (boundary <= byteAt) return false
    const held = concat(partial)
    const cut = boundary - byteAt
    // The rest is a copy: a reader may transfer the piece it got (postMessage, a worklet).
    partial = cut < held.byteLength ? [held.slice(cut)] : []
    byteAt = boundary
    if (initDue) {
      initDue = false
      controller.enqueue(initSegment!.slice())
    }
    controller.enqueue(held.subarray(0, cut))
    return true
  }

  function runSpeaker(now: number): void {
    // As fast as data comes there is no speaker to starve: the playhead is the delivered audio.
    if (deps.speed <= 0) {
      scheduler.setPlayhead(deliveredUntilMs())
      return
    }
    if (externalClock) return
    for (const e of speaker.update(now, deliveredUntilMs())) {
      if (e.type === 'stall') events.emit('stall', { atMs: speaker.state().positionMs })
      else if (e.type === 'resume') events.emit('resume', { stalledMs: e.stalledMs })
      else if (e.type === 'end') finish()
    }
    scheduler.setPlayhead(speaker.state().positionMs)
  }

  function finish(): void {
    if (ended) return
    ended = true
    events.emit('end', { stats: stats() })
    shutdown()
  }

  async function deliver(): Promise<void> {
    if (delivering) return
    delivering = true
    try {
      const key = await init.key
      while (!stopped && !streamClosed && next < layout.count) {
        const index = next
        const at = epoch
        const entry = encrypted.get(index) ?? (cachedPending.has(index) ? await fromCache(index) : undefined)
        if (stopped) return
        // A seek while this waited: the chunk is kept if the new position still needs it.
        if (at !== epoch) {
          if (entry && index >= next) encrypted.set(index, entry)
          continue
        }
        if (!entry) break
        const plain = await decryptChunk(key, quality.nonce, index, quality.chunkSize, entry.data)
        if (stopped) return
        if (at !== epoch) {
          if (index >= next) encrypted.set(index, entry)
          continue
        }
        runSpeaker(deps.now())
        encrypted.delete(index)
        const out = emit(index, plain)
        next++
        if (out && ttfa === null) {
          ttfa = deps.now() - init.startedAt
          events.emit('start', { timeToFirstAudioMs: ttfa, fromCache: entry.source === 'cache', prefetched: init.prefetched })
          runSpeaker(deps.now())
        }
      }
      if (next >= layout.count && !stopped && !streamClosed) {
        streamClosed = true
        try {
          controller.close()
        } catch {}
        if (deps.speed <= 0) finish()
      }
    } catch (err) {
      fail(err instanceof ChorusError ? err : new ChorusError('no_key', `cannot decrypt ${init.trackId}: ${(err as Error).message}`, { cause: err }))
    } finally {
      delivering = false
    }
  }

  /** A verified chunk is here: count it, cache and share it, and deliver what is now in order. */
  function arrived(index: number, data: Uint8Array, source: Source): void {
    if (stopped || scheduler.has(index)) return
    runSpeaker(deps.now())
    bytes[source] += data.byteLength
    scheduler.received(index, source, deps.now())
    if (index >= next) encrypted.set(index, { data, source })
    if (source !== 'cache') {
      void cache.put(chunkKey(manifest.trackId, manifest.version, quality.bitrate, index), data).then((held) => held && peerSet?.announceHave(index))
    }
    void deliver()
    pump()
  }

  function fetchEdge(index: number): void {
    const started = deps.now()
    edge.chunk({ trackId: manifest.trackId, version: manifest.version, bitrate: quality.bitrate, index, hash: quality.hashes[index]! }, aborter.signal).then(
      (data) => {
        const seconds = (deps.now() - started) / 1000
        if (seconds > 0) deps.onEdgeThroughput?.(data.byteLength / seconds)
        arrived(index, data, 'edge')
      },
      (err: ChorusError) => {
        if (stopped) return
        scheduler.failed(index)
        // With no peer holding the chunk and the edge down, nothing will bring it: say so instead of hanging.
        const peersHold = peerSet?.peers().some((p) => scheduler.peerHolds(p, index)) ?? false
        if (!peersHold && scheduler.bufferAheadMs() === 0 && ttfa !== null && !retryEdge(index)) {
          fail(new ChorusError('all_sources_down', `chunk ${index} of ${manifest.trackId}: ${err.message}`, { cause: err }))
        } else if (ttfa === null && !peersHold && !retryEdge(index)) {
          fail(new ChorusError(err.code ?? 'all_sources_down', err.message, { cause: err }))
        }
      },
    )
  }

  // The edge gets a few tries per chunk before a playback with nothing else gives up.
  const edgeTries = new Map<number, number>()
  function retryEdge(index: number): boolean {
    const n = (edgeTries.get(index) ?? 0) + 1
    edgeTries.set(index, n)
    return n < 4
  }

  function perform(actions: Action[]): void {
    for (const a of actions) {
      switch (a.type) {
        case 'fetch-edge':
          fetchEdge(a.index)
          break
        case 'request-peer':
          if (!peerSet?.request(a.peer, a.index)) scheduler.failed(a.index)
          break
        case 'cancel-peer':
          peerSet?.cancel(a.peer, a.index)
          break
        case 'uploading':
          deps.network?.setUploading(a.allowed)
          break
      }
    }
  }

  function pump(): void {
    if (stopped || pumping) return
    pumping = true
    try {
      const now = deps.now()
      runSpeaker(now)
      if (!stopped) perform(scheduler.plan(now))
    } finally {
      pumping = false
    }
  }

  /**
   * Chunks already in the cache count as held at once (the index is in memory), so the scheduler
   * never asks anyone for them; their bytes are read and re-checked only when their turn to play
   * comes. A disk can rot: a cached chunk that fails its hash is forgotten and fetched again.
   */
  const cachedPending = new Set<number>()
  function countCached(): void {
    const now = deps.now()
    for (const index of cache.heldChunks(manifest.trackId, manifest.version, quality.bitrate)) {
      if (index < next || scheduler.has(index)) continue
      cachedPending.add(index)
      scheduler.received(index, 'cache', now)
    }
  }

  async function fromCache(index: number): Promise<{ data: Uint8Array; source: Source } | undefined> {
    const key = chunkKey(manifest.trackId, manifest.version, quality.bitrate, index)
    const data = await cache.get(key)
    cachedPending.delete(index)
    if (data && (await chunkMatches(data, quality.hashes[index]!))) {
      bytes.cache += data.byteLength
      return { data, source: 'cache' }
    }
    void cache.delete(key)
    scheduler.forget(index)
    pump()
    return undefined
  }

  async function joinSwarm(): Promise<void> {
    if (!deps.network || !deps.scheduler.p2p) return
    const held = () => cache.heldChunks(manifest.trackId, manifest.version, quality.bitrate)
    peerSet = await deps.network.join(swarmQuality(manifest, quality), { held, get: (i) => cache.get(chunkKey(manifest.trackId, manifest.version, quality.bitrate, i)) }, () =>
      Math.max(0, quality.byteLength - [...held()].reduce((n, i) => n + layout.size(i), 0)),
    )
    if (stopped) return
    unlisten = peerSet.listen({
      onPeer: (peer, holds) => {
        scheduler.addPeer(peer, holds)
        pump()
      },
      onHave: (peer, index) => {
        scheduler.peerHas(peer, index)
        pump()
      },
      onChoke: (peer, choked) => scheduler.peerChoked(peer, choked),
      onPeerGone: (peer) => {
        scheduler.removePeer(peer)
        pump()
      },
      onReject: (index, peer) => {
        // Not from this peer (it does not hold it, or will not serve it now): not asked of it again.
        scheduler.peerLacks(peer, index)
        scheduler.failed(index)
        pump()
      },
      onChunk: (index, data) => arrived(index, data, 'peer'),
      onBadChunk: (index, peer) => {
        chunksRejected++
        scheduler.removePeer(peer)
        scheduler.failed(index)
        pump()
      },
    })
  }

  function shutdown(): void {
    if (stopped) return
    stopped = true
    aborter.abort()
    if (timer) clearInterval(timer)
    clearTimeout(joinTimer)
    unlisten?.()
    if (scheduler.emergency) deps.network?.setUploading(true)
    if (peerSet) deps.release?.(peerSet.infoHash)
  }

  function stop(): void {
    if (stopped) return
    shutdown()
    try {
      controller.close()
    } catch {}
  }

  function stats(): PlaybackStats {
    const s = speaker.state(deps.now())
    return {
      trackId: manifest.trackId,
      version: manifest.version,
      bitrate: quality.bitrate,
      timeToFirstAudioMs: ttfa,
      stalls: s.stalls,
      stalledMs: Math.round(s.stalledMs),
      bytes: { ...bytes },
      peersConnected: peerSet?.size ?? 0,
      chunksRejected,
      prefetched: init.prefetched,
      positionMs: Math.round(deps.speed <= 0 ? deliveredUntilMs() : s.positionMs),
      bufferAheadMs: Math.round(Math.max(0, deliveredUntilMs() - s.positionMs)),
      ended,
    }
  }

  // Begin: cached chunks count at once, the head goes to the edge, the swarm is joined meanwhile.
  scheduler.start(from.timeMs, from.chunk)
  events.emit('quality', { bitrate: quality.bitrate, reason: 'start' })
  countCached()
  for (const [index, data] of init.chunks ?? []) arrived(index, data, 'edge')
  void deliver()
  pump()
  const firstAudio = new Promise<void>((resolve) => {
    events.on('start', () => resolve())
    joinTimer = setTimeout(resolve, JOIN_AFTER_MS)
    ;(joinTimer as { unref?: () => void }).unref?.()
  })
  void firstAudio.then(() => (stopped ? undefined : joinSwarm())).then(pump, () => {})
  timer = setInterval(pump, deps.tickMs)
  ;(timer as { unref?: () => void }).unref?.()

  const timing: TrackTiming = trackTiming(quality, manifest.durationMs)

  return {
    trackId: manifest.trackId,
    manifest,
    quality,
    mimeType: mediaType(quality),
    timing,
    get startMs() {
      return from.timeMs
    },
    stream,
    on: events.on,
    stats,
    seek(seconds) {
      if (stopped) return
      const ms = clampMs(seconds * 1000)
      if (streamClosed) {
        speaker.seek(deps.now(), ms)
        scheduler.setPlayhead(ms)
        return
      }
      from = startPoint(quality, ms)
      epoch++
      next = from.chunk
      byteAt = from.chunk * quality.chunkSize + from.skip
      partial = []
      initDue = mp4 !== undefined
      for (const i of [...encrypted.keys()]) if (i < next) encrypted.delete(i)
      // Chunks counted as held but delivered already (a seek back): read again from the cache, or fetched again.
      for (let i = next; i < layout.count; i++) {
        if (!scheduler.has(i) || encrypted.has(i) || cachedPending.has(i)) continue
        if (cache.has(chunkKey(manifest.trackId, manifest.version, quality.bitrate, i))) cachedPending.add(i)
        else scheduler.forget(i)
      }
      scheduler.start(from.timeMs, from.chunk)
      speaker = createSpeaker({ startMs: from.timeMs, durationMs: layout.durationMs, speed })
      countCached()
      void deliver()
      pump()
    },
    reportPosition(seconds) {
      externalClock = true
      speaker.report(deps.now(), seconds * 1000)
      scheduler.setPlayhead(seconds * 1000)
      if (seconds * 1000 >= layout.durationMs - 50) finish()
    },
    stop,
    get done() {
      return stopped
    },
  }
}
