import { seeded } from '../../protocol/index.js'
import { type Popularity, createPopularity } from './popularity.js'

/**
 * Who listens to what, when, and over which network: a seeded script of listening sessions,
 * values only, so that the benchmark (real SDK clients) and the simulation (scheduler and
 * tracker cores under virtual time) play the same kind of day, and a seed repeats it exactly.
 *
 * - Popularity: Spotify-shaped (88 % of plays to the top 12 % of tracks).
 * - Sessions: most follow a playlist whose order the app knows (the queue, prefetched); some
 *   play the listener's favourites in their usual order without a queue (what the SDK's habits
 *   learn); any play may be a jump elsewhere (a search: nothing predicts it).
 * - Skips and partial plays; listeners arrive over a spread, leave after a session, and some
 *   come back later with the cache they had.
 */
export interface NetworkProfile {
  /** Round trip to the edge (and to the tracker), ms. */
  rttMs: number
  /** Delay on each message this listener receives from a peer: a link's RTT is the sum of both ends'. */
  peerOneWayMs: number
  /** Upload cap for serving peers, bytes per second of wall time. */
  uploadBytesPerSec: number
  /** Download from the edge, bytes per second. */
  downBytesPerSec: number
  /** Packet loss on the edge path (0..1). */
  loss: number
}

export interface PlannedPlay {
  /** Index into the catalog: 0 is the most popular track. */
  rank: number
  /** Audio ms listened before skipping; null: to the end. */
  listenMs: number | null
  /** The app's queue when this play starts: what it would prefetch next. */
  upcoming: number[]
  /** The play is the next of the queue the app had set (predictable from the queue). */
  queued: boolean
  /** The play follows the listener's usual order, with no queue (predictable from habits only). */
  habitual: boolean
}

export interface PlannedSession {
  /** Wall ms between the end of the previous session (or the start of the run) and this one. */
  waitMs: number
  kind: 'playlist' | 'favourites'
  plays: PlannedPlay[]
}

export interface ListenerScript {
  index: number
  network: NetworkProfile
  sessions: PlannedSession[]
}

/** How sessions are made: the same rules for the benchmark and the simulation. */
export interface SessionRules {
  /** Share of plays after the first of a session that follow the playlist (or favourites) order. */
  inOrderShare: number
  /** Share of sessions (after a listener's first) that play favourites without a queue. */
  favouritesShare: number
  skipShare: number
  sessionPlays: [number, number]
  playlistLength: [number, number]
  favourites: number
}

const SESSION_RULES: SessionRules = { inOrderShare: 0.85, favouritesShare: 0.3, skipShare: 0.3, sessionPlays: [3, 8], playlistLength: [6, 12], favourites: 6 }

export interface SessionPlanner {
  /** Distinct ranks drawn by popularity (a playlist, or someone's favourites). */
  distinct(n: number): number[]
  /** One session: `first` is the listener's first (never a favourites session). */
  session(favourites: number[], first: boolean): Pick<PlannedSession, 'kind' | 'plays'>
}

export function createSessionPlanner(random: () => number, popularity: Popularity, durationMs: (rank: number) => number, rules: SessionRules = SESSION_RULES): SessionPlanner {
  const count = popularity.count
  const between = (lo: number, hi: number) => lo + random() * (hi - lo)
  const whole = (lo: number, hi: number) => Math.floor(between(lo, hi + 1))
  const distinct = (n: number): number[] => {
    const out: number[] = []
    for (let tries = 0; out.length < Math.min(n, count) && tries < n * 50; tries++) {
      const r = popularity.sample(random)
      if (!out.includes(r)) out.push(r)
    }
    return out
  }
  return {
    distinct,
    session(favourites, first) {
      const kind = !first && random() < rules.favouritesShare ? 'favourites' : 'playlist'
      const order = kind === 'favourites' ? favourites : distinct(whole(...rules.playlistLength))
      const n = whole(...rules.sessionPlays)
      const plays: PlannedPlay[] = []
      let at = 0
      for (let i = 0; i < n; i++) {
        const followsOrder = i > 0 && at < order.length && random() < rules.inOrderShare
        const rank = i === 0 || followsOrder ? order[at++]! : popularity.sample(random)
        // The app's queue is the rest of the playlist; favourites are played with no queue.
        const upcoming = kind === 'playlist' ? order.slice(at) : []
        const listenMs = random() < rules.skipShare ? Math.round(between(3_000, durationMs(rank) * 0.8)) : null
        plays.push({ rank, listenMs, upcoming, queued: followsOrder && kind === 'playlist', habitual: followsOrder && kind === 'favourites' })
        if (at >= order.length && kind === 'favourites') at = 0
      }
      return { kind, plays }
    },
  }
}

export interface ScenarioOptions {
  seed: number
  listeners: number
  /** Catalog durations (ms), by popularity rank. */
  trackDurationsMs: readonly number[]
  /** Wall ms the run lasts; sessions are planned to fill it. */
  durationMs: number
  /** Audio plays this many times faster than real time. */
  speed: number
  /** Listeners arrive over the first this-many wall ms. */
  arrivalSpreadMs: number
  network: { rttMs: number; rttJitter: number; peerRttMs: number; uploadBytesPerSec: number; downBytesPerSec: number; loss: number }
  rules?: SessionRules
  /** Share of listeners who come back after a session ends. */
  returnShare?: number
  /** Wall ms between sessions of a listener who comes back. */
  returnGapMs?: [number, number]
}

export interface Scenario {
  popularity: Popularity
  listeners: ListenerScript[]
}

/** A listener's own round trips: the mean times (1 +- jitter). */
export function drawNetwork(random: () => number, n: ScenarioOptions['network']): NetworkProfile {
  const jitter = () => 1 + n.rttJitter * (2 * random() - 1)
  return {
    rttMs: Math.max(1, Math.round(n.rttMs * jitter())),
    peerOneWayMs: Math.max(0, Math.round((n.peerRttMs / 2) * jitter())),
    uploadBytesPerSec: n.uploadBytesPerSec,
    downBytesPerSec: n.downBytesPerSec,
    loss: n.loss,
  }
}

export function createScenario(options: ScenarioOptions): Scenario {
  const random = seeded(options.seed)
  const popularity = createPopularity(options.trackDurationsMs.length)
  const planner = createSessionPlanner(random, popularity, (r) => options.trackDurationsMs[r]!, options.rules)
  const returnShare = options.returnShare ?? 0.75
  const [minGap, maxGap] = options.returnGapMs ?? [2_000, 15_000]
  const listeners: ListenerScript[] = []
  for (let index = 0; index < options.listeners; index++) {
    const network = drawNetwork(random, options.network)
    const favourites = planner.distinct(SESSION_RULES.favourites)
    const sessions: PlannedSession[] = []
    let plannedMs = random() * options.arrivalSpreadMs
    let waitMs = plannedMs
    // Plan past the end of the run: the runner stops at its deadline, wherever a session is.
    while (plannedMs < options.durationMs * 1.5) {
      const s = planner.session(favourites, sessions.length === 0)
      sessions.push({ waitMs, ...s })
      for (const p of s.plays) plannedMs += (p.listenMs ?? options.trackDurationsMs[p.rank]!) / options.speed
      if (random() >= returnShare) break
      waitMs = minGap + random() * (maxGap - minGap)
      plannedMs += waitMs
    }
    listeners.push({ index, network, sessions })
  }
  return { popularity, listeners }
}
