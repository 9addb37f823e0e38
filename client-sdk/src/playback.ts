import { type Manifest, type QualityManifest, chunkMatches, decryptChunk } from '../../protocol/index.js'
import { type ChunkCache, chunkKey } from './cache/chunk-cache.js'
import { type Action, type ChunkLayout, type SchedulerConfig, type Source, createScheduler } from './core/scheduler.js'
import { createSpeaker } from './core/speaker.js'
import type { EdgeClient } from './edge-client.js'
import { createEmitter } from './emitter.js'
import { ChorusError } from './errors.js'
import type { Network } from './p2p/network.js'
import type { Swarm } from './p2p/swarm.js'

/**
 * One track being played: the scheduler's decisions carried out. Chunks come from the cache,
 * the edge or peers; each is verified against the signed manifest before it is cached, shared
 * or decrypted; decrypted audio leaves in order through `stream`. A virtual speaker (or the
 * page's audio element, through reportPosition) moves the playhead and counts stalls.
 */
export interface PlaybackEvents {
  start: { timeToFirstAudioMs: number; fromCache: boolean; prefetched: boolean }
  stall: { atMs: number }
  resume: { stalledMs: number }
  quality: { bitrate: number; reason: string }
  end: { stats: PlaybackStats }
  error: ChorusError
}

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

export interface PlaybackInit {
  trackId: string
  manifest: Manifest
  quality: QualityManifest
  key: Promise<CryptoKey>
  fromMs: number
  startedAt: number
  prefetched: boolean
}

export function createPlayback(init: PlaybackInit, deps: PlaybackDeps) {
  const { manifest, quality } = init
  const { cache, edge } = deps
  const events = createEmitter<PlaybackEvents>()
  const layout: ChunkLayout = {
    count: quality.chunkCount,
    size: (i) => Math.min(quality.chunkSize, quality.byteLength - i * quality.chunkSize),
    startMs: (i) => quality.seek[i] ?? 0,
    durationMs: manifest.durationMs,
  }
  const scheduler = createScheduler(layout, deps.scheduler)
  const speed = deps.speed > 0 ? deps.speed : 1e6
  let speaker = createSpeaker({ startMs: init.fromMs, durationMs: manifest.durationMs, speed })
  const bytes = { cache: 0, peer: 0, edge: 0 }
  const encrypted = new Map<number, { data: Uint8Array; source: Source }>()
  const aborter = new AbortController()
  let chunksRejected = 0
  let next = scheduler.chunkAt(init.fromMs)
  let ttfa: number | null = null
  let stopped = false
  let ended = false
  let swarm: Swarm | undefined
  let unlisten: (() => void) | undefined
  let externalClock = false
  let pumping = false
  let delivering = false
  let controller!: ReadableStreamDefaultController<Uint8Array>
  let timer: ReturnType<typeof setInterval> | undefined

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

  /** Audio delivered without a gap from the start position, in ms: what the speaker can play. */
  const deliveredUntilMs = () => (next >= layout.count ? layout.durationMs : layout.startMs(next))

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
      while (!stopped && next < layout.count) {
        const entry = encrypted.get(next) ?? (cachedPending.has(next) ? await fromCache(next) : undefined)
        if (!entry) break
        const plain = await decryptChunk(key, quality.nonce, next, quality.chunkSize, entry.data)
        if (stopped) return
        runSpeaker(deps.now())
        encrypted.delete(next)
        controller.enqueue(plain)
        next++
        if (ttfa === null) {
          ttfa = deps.now() - init.startedAt
          events.emit('start', { timeToFirstAudioMs: ttfa, fromCache: entry.source === 'cache', prefetched: init.prefetched })
          runSpeaker(deps.now())
        }
      }
      if (next >= layout.count && !stopped) {
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
      void cache.put(chunkKey(manifest.trackId, manifest.version, quality.bitrate, index), data).then((held) => held && swarm?.announceHave(index))
    }
    void deliver()
    pump()
  }

  function fetchEdge(index: number): void {
    const started = deps.now()
    edge
      .chunk({ trackId: manifest.trackId, version: manifest.version, bitrate: quality.bitrate, index, hash: quality.hashes[index]! }, aborter.signal)
      .then(
        (data) => {
          const seconds = (deps.now() - started) / 1000
          if (seconds > 0) deps.onEdgeThroughput?.(data.byteLength / seconds)
          arrived(index, data, 'edge')
        },
        (err: ChorusError) => {
          if (stopped) return
          scheduler.failed(index)
          // With no peer holding the chunk and the edge down, nothing will bring it: say so instead of hanging.
          const peersHold = swarm?.peers().some((p) => scheduler.peerHolds(p, index)) ?? false
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
          if (!swarm?.request(a.peer, a.index)) scheduler.failed(a.index)
          break
        case 'cancel-peer':
          swarm?.cancel(a.peer, a.index)
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
    swarm = await deps.network.join(
      { trackId: manifest.trackId, version: manifest.version, bitrate: quality.bitrate, chunkCount: quality.chunkCount, hashes: quality.hashes },
      { held, get: (i) => cache.get(chunkKey(manifest.trackId, manifest.version, quality.bitrate, i)) },
      () => Math.max(0, quality.byteLength - [...held()].reduce((n, i) => n + layout.size(i), 0)),
    )
    if (stopped) return
    unlisten = swarm.listen({
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
      onReject: (index) => {
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
    unlisten?.()
    if (scheduler.emergency) deps.network?.setUploading(true)
    if (swarm) deps.release?.(swarm.infoHash)
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
      peersConnected: swarm?.size ?? 0,
      chunksRejected,
      prefetched: init.prefetched,
      positionMs: Math.round(deps.speed <= 0 ? deliveredUntilMs() : s.positionMs),
      bufferAheadMs: Math.round(Math.max(0, deliveredUntilMs() - s.positionMs)),
      ended,
    }
  }

  // Begin: cached chunks count at once, the head goes to the edge, the swarm is joined meanwhile.
  scheduler.start(init.fromMs)
  events.emit('quality', { bitrate: quality.bitrate, reason: 'start' })
  countCached()
  void deliver()
  pump()
  void joinSwarm().then(pump, () => {})
  timer = setInterval(pump, deps.tickMs)
  ;(timer as { unref?: () => void }).unref?.()

  return {
    trackId: manifest.trackId,
    manifest,
    quality,
    stream,
    on: events.on,
    stats,
    /** Moves playback to `seconds`: the head window moves there; the stream goes on from that chunk. */
    seek(seconds: number): void {
      if (stopped) return
      const ms = Math.max(0, Math.min(seconds * 1000, layout.durationMs))
      next = scheduler.chunkAt(ms)
      for (const i of [...encrypted.keys()]) if (i < next) encrypted.delete(i)
      scheduler.start(ms)
      speaker = createSpeaker({ startMs: layout.startMs(next), durationMs: layout.durationMs, speed })
      countCached()
      void deliver()
      pump()
    },
    /** The real speaker's position, for pages that play through an audio element. */
    reportPosition(seconds: number): void {
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

export type Playback = ReturnType<typeof createPlayback>
