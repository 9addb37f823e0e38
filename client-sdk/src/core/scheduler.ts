import { type QualityManifest, playableUntilMs } from '../../../protocol/index.js'

/**
 * Which chunk comes from where, and when: the player's scheduler as a pure core. It holds no
 * timers and does no I/O; the player tells it what happened (with the time) and performs the
 * actions it returns. The same core runs in the player and in the million-listener simulation.
 *
 * Rules, after Spotify's client (Kreitz & Niemela 2010), tuned to beat it:
 * - the head of a track (headSec from where playback starts) comes from the edge at once;
 * - later chunks inside the urgent window ahead of the playhead come from the edge;
 * - chunks beyond it come from peers, each to the peer with the earliest expected completion
 *   (its outstanding bytes plus this chunk, over its measured rate);
 * - a peer request not done by its deadline is cancelled and goes to another peer, or to the
 *   edge when the chunk has become urgent;
 * - with the buffer below lowWaterSec the player is in emergency: everything from the edge and
 *   no uploading, until the buffer is back above recoverSec.
 */
export interface SchedulerConfig {
  headSec: number
  urgentSec: number
  lookaheadSec: number
  lowWaterSec: number
  recoverSec: number
  maxEdgeInFlight: number
  maxPeerInFlight: number
  /** A peer request's deadline is at least this long... */
  minPeerDeadlineMs: number
  /** ...and at least this many times its expected duration. */
  deadlineFactor: number
  /** Assumed rate of a peer we have not measured yet (bytes/s). */
  initialPeerRate: number
  p2p: boolean
}

export const DEFAULT_SCHEDULER_CONFIG: SchedulerConfig = {
  headSec: 10,
  urgentSec: 4,
  lookaheadSec: 90,
  lowWaterSec: 2,
  recoverSec: 6,
  maxEdgeInFlight: 4,
  maxPeerInFlight: 4,
  minPeerDeadlineMs: 1500,
  deadlineFactor: 4,
  initialPeerRate: 200 * 1024,
  p2p: true,
}

/** What the scheduler knows of the track: chunk sizes and the seek table. */
export interface ChunkLayout {
  count: number
  size(index: number): number
  /** Audio time (ms) at which chunk `index` starts: the seek table (chunkAt searches it). */
  startMs(index: number): number
  /**
   * The audio a player can reach once every chunk before `index` is there (durationMs for
   * `count`), which is also when chunk `index` is needed. Without it, startMs(index) (and
   * durationMs at the end): exact for MP3, where any chunk start is a start; an MP4 layout gives
   * the start of the fragment the chunk's first byte belongs to (protocol's playableUntilMs),
   * as startMs can overstate that by up to a fragment.
   */
  playableUntilMs?(index: number): number
  durationMs: number
}

/** When chunk `index` is needed: the audio reachable with every chunk before it. */
export function chunkNeededMs(layout: ChunkLayout, index: number): number {
  if (index >= layout.count) return layout.durationMs
  return layout.playableUntilMs ? layout.playableUntilMs(index) : layout.startMs(index)
}

/** The layout of one quality of a manifest, as the player and its prefetch see it. */
export function qualityLayout(quality: QualityManifest, durationMs: number): ChunkLayout {
  return {
    count: quality.chunkCount,
    size: (i) => Math.min(quality.chunkSize, quality.byteLength - i * quality.chunkSize),
    startMs: (i) => quality.seek[i] ?? 0,
    playableUntilMs: (i) => playableUntilMs(quality, i, durationMs),
    durationMs,
  }
}

export type Source = 'cache' | 'peer' | 'edge'

export type Action =
  | { type: 'fetch-edge'; index: number }
  | { type: 'request-peer'; peer: string; index: number; deadline: number }
  | { type: 'cancel-peer'; peer: string; index: number }
  | { type: 'uploading'; allowed: boolean }

interface PeerState {
  have: Set<number>
  choked: boolean
  /** Bytes per second, smoothed; starts at the configured guess. */
  rate: number
  inflight: Set<number>
}

type Inflight = { source: 'edge'; since: number } | { source: 'peer'; peer: string; since: number; deadline: number }

interface SchedulerSnapshot {
  playheadMs: number
  bufferAheadMs: number
  emergency: boolean
  have: number
  inflightEdge: number
  inflightPeer: number
  peers: number
}

/** One playback's scheduler. Times are ms on the caller's clock; chunks are indices of the layout. */
export interface Scheduler {
  /** The decisions for this moment. Call after every event and on a regular tick. */
  plan(now: number): Action[]
  /**
   * Where playback starts (or restarts after a seek): audio time `atMs`, from chunk `fromChunk`
   * (default chunkAt(atMs); an MP4 playback passes its start point's chunk, the one holding
   * the fragment it starts at). The head window moves there; no chunk before `fromChunk` is
   * asked for.
   */
  start(atMs: number, fromChunk?: number): void
  /** Where the speaker is now (audio ms). */
  setPlayhead(ms: number): void
  /** A verified chunk arrived (from anywhere: a late duplicate is harmless); a peer's delivery updates its measured rate. */
  received(index: number, source: Source, now: number): void
  /** A chunk we counted as held turned out unusable (a cached copy that failed its check): wanted again. */
  forget(index: number): void
  /** A request failed or was refused: the chunk is wanted again. */
  failed(index: number): void
  has(index: number): boolean
  isInflight(index: number): boolean
  /** A peer connected, holding `holds`. */
  addPeer(id: string, holds?: Iterable<number>): void
  /** The peer says it holds `index`. */
  peerHas(id: string, index: number): void
  /** A peer refused a chunk: it is not asked for it again (unless it says `have` again). */
  peerLacks(id: string, index: number): void
  /** A choked peer is asked for nothing. */
  peerChoked(id: string, choked: boolean): void
  /** A peer left or was dropped (e.g. for a bad chunk): its requests are wanted again; returns them. */
  removePeer(id: string): number[]
  peerIds(): string[]
  peerHolds(id: string, index: number): boolean
  /** Audio available ahead of the playhead without a gap (ms). */
  bufferAheadMs(): number
  /** The chunk that holds audio time `ms` (by the seek table). */
  chunkAt(ms: number): number
  snapshot(): SchedulerSnapshot
  /** The buffer fell below lowWaterSec and has not yet recovered past recoverSec. */
  readonly emergency: boolean
}

export function createScheduler(layout: ChunkLayout, config: SchedulerConfig = DEFAULT_SCHEDULER_CONFIG): Scheduler {
  const have = new Set<number>()
  const inflight = new Map<number, Inflight>()
  const peers = new Map<string, PeerState>()
  let playheadMs = 0
  let headFromMs = 0
  let startedAtMs = 0
  /** The chunk playback starts from: nothing before it is wanted. */
  let floor = 0
  /** No chunk in floor..missingFrom-1 is missing (a cursor, so plan() does not rescan what is held). */
  let missingFrom = 0
  let emergency = false
  let uploadAllowed = true

  const neededMs = (index: number): number => chunkNeededMs(layout, index)

  /**
   * The first chunk from the start that is not held: where the stream waits. The plan begins
   * there, not at chunkAt(playhead): an MP4 stream that starts at a fragment inside a chunk needs
   * that chunk even where the seek table puts the playhead in a later one (after the last
   * fragment's start every chunk has its time), and a playhead reported past undelivered audio
   * must not leave the chunk the stream waits for unasked.
   */
  function firstMissing(): number {
    while (missingFrom < layout.count && have.has(missingFrom)) missingFrom++
    return missingFrom
  }

  const chunkAt = (ms: number): number => {
    let lo = 0
    let hi = layout.count - 1
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1
      if (layout.startMs(mid) <= ms) lo = mid
      else hi = mid - 1
    }
    return lo
  }

  /** Audio available ahead of the playhead without a gap. */
  function bufferAheadMs(): number {
    return Math.max(0, neededMs(firstMissing()) - playheadMs)
  }

  function countEdge(): number {
    let n = 0
    for (const f of inflight.values()) if (f.source === 'edge') n++
    return n
  }

  function bestPeer(index: number, now: number): { id: string; expectedMs: number } | undefined {
    let best: { id: string; expectedMs: number } | undefined
    for (const [id, p] of peers) {
      if (p.choked || !p.have.has(index) || p.inflight.size >= config.maxPeerInFlight) continue
      let outstanding = layout.size(index)
      for (const i of p.inflight) outstanding += layout.size(i)
      const expectedMs = (outstanding / p.rate) * 1000
      if (!best || expectedMs < best.expectedMs) best = { id, expectedMs }
    }
    void now
    return best
  }

  function release(index: number): void {
    const f = inflight.get(index)
    if (f?.source === 'peer') peers.get(f.peer)?.inflight.delete(index)
    inflight.delete(index)
  }

  /** The decisions for this moment. Call after every event and on a regular tick. */
  function plan(now: number): Action[] {
    const actions: Action[] = []
    const buffered = bufferAheadMs()
    // Before the first audio there is no buffer to protect: the head rule already asks the edge.
    const playing = neededMs(firstMissing()) > startedAtMs
    if (!playing) emergency = false
    else if (!emergency && buffered < config.lowWaterSec * 1000 && buffered < layout.durationMs - playheadMs) emergency = true
    else if (emergency && (buffered >= config.recoverSec * 1000 || playheadMs + buffered >= layout.durationMs)) emergency = false
    if (uploadAllowed === emergency) {
      uploadAllowed = !emergency
      actions.push({ type: 'uploading', allowed: uploadAllowed })
    }

    // Late peer requests: cancel them; the loop below gives the chunk to someone else.
    for (const [index, f] of inflight) {
      if (f.source !== 'peer' || f.deadline > now) continue
      actions.push({ type: 'cancel-peer', peer: f.peer, index })
      const p = peers.get(f.peer)
      // A peer that missed a deadline is slower than we thought: halve its rate estimate.
      if (p) p.rate = Math.max(1024, p.rate / 2)
      release(index)
    }

    let edgeSlots = config.maxEdgeInFlight - countEdge()
    for (let i = firstMissing(); i < layout.count; i++) {
      const needed = neededMs(i)
      const aheadMs = needed - playheadMs
      if (aheadMs > config.lookaheadSec * 1000) break
      if (have.has(i)) continue
      const f = inflight.get(i)
      const inHead = needed < headFromMs + config.headSec * 1000
      const urgent = inHead || emergency || !config.p2p || aheadMs < config.urgentSec * 1000
      if (f?.source === 'edge') continue
      if (f?.source === 'peer') {
        // An urgent chunk still waiting on a peer whose deadline falls after the audio is needed goes to the edge too.
        if (!(urgent && f.deadline - now > aheadMs && edgeSlots > 0)) continue
        actions.push({ type: 'cancel-peer', peer: f.peer, index: i })
        release(i)
      }
      if (urgent) {
        if (edgeSlots <= 0) continue
        edgeSlots--
        inflight.set(i, { source: 'edge', since: now })
        actions.push({ type: 'fetch-edge', index: i })
        continue
      }
      const peer = bestPeer(i, now)
      if (!peer) continue
      const deadline = now + Math.max(config.minPeerDeadlineMs, peer.expectedMs * config.deadlineFactor)
      // Never let a peer hold a chunk past the moment it turns urgent.
      const latest = now + Math.max(0, aheadMs - config.urgentSec * 1000)
      const d = Math.min(deadline, Math.max(latest, now + config.minPeerDeadlineMs))
      inflight.set(i, { source: 'peer', peer: peer.id, since: now, deadline: d })
      peers.get(peer.id)!.inflight.add(i)
      actions.push({ type: 'request-peer', peer: peer.id, index: i, deadline: d })
    }
    return actions
  }

  return {
    plan,
    start(atMs: number, fromChunk: number = chunkAt(atMs)): void {
      playheadMs = atMs
      startedAtMs = atMs
      floor = Math.max(0, Math.min(fromChunk, layout.count))
      missingFrom = floor
      headFromMs = Math.min(atMs, neededMs(floor))
    },
    setPlayhead(ms: number): void {
      playheadMs = Math.max(0, Math.min(ms, layout.durationMs))
    },
    received(index: number, source: Source, now: number): void {
      const f = inflight.get(index)
      if (f?.source === 'peer' && source === 'peer') {
        const p = peers.get(f.peer)
        const seconds = Math.max(0.001, (now - f.since) / 1000)
        if (p) p.rate = p.rate * 0.5 + (layout.size(index) / seconds) * 0.5
      }
      release(index)
      have.add(index)
    },
    forget(index: number): void {
      have.delete(index)
      if (index >= floor) missingFrom = Math.min(missingFrom, index)
    },
    failed(index: number): void {
      release(index)
    },
    has: (index: number) => have.has(index),
    isInflight: (index: number) => inflight.has(index),
    addPeer(id: string, holds: Iterable<number> = []): void {
      if (!peers.has(id)) peers.set(id, { have: new Set(holds), choked: false, rate: config.initialPeerRate, inflight: new Set() })
    },
    peerHas(id: string, index: number): void {
      peers.get(id)?.have.add(index)
    },
    peerLacks(id: string, index: number): void {
      peers.get(id)?.have.delete(index)
    },
    peerChoked(id: string, choked: boolean): void {
      const p = peers.get(id)
      if (p) p.choked = choked
    },
    removePeer(id: string): number[] {
      const p = peers.get(id)
      if (!p) return []
      const lost = [...p.inflight]
      for (const i of lost) inflight.delete(i)
      peers.delete(id)
      return lost
    },
    peerIds: () => [...peers.keys()],
    peerHolds: (id: string, index: number) => peers.get(id)?.have.has(index) === true,
    bufferAheadMs,
    chunkAt,
    snapshot(): SchedulerSnapshot {
      let inflightEdge = 0
      for (const f of inflight.values()) if (f.source === 'edge') inflightEdge++
      return { playheadMs, bufferAheadMs: bufferAheadMs(), emergency, have: have.size, inflightEdge, inflightPeer: inflight.size - inflightEdge, peers: peers.size }
    },
    get emergency() {
      return emergency
    },
  }
}
