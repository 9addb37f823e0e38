// Every rule and limit of the tracker, with its default. Both adapters and the CLI read them from here.

interface TrackerLimits {
  /** Largest accepted message, in characters. A larger one gets a failure reason and the socket is closed. */
  maxMessageChars: number
  /** Swarms one socket may be in at once; joining one more gets a failure reason and the socket is closed. */
  maxSwarmsPerSocket: number
  /** Messages (announces, answers, scrapes, malformed ones too) per socket in one second; beyond: closed. */
  maxAnnouncesPerSecond: number
  /** Open sockets; a socket beyond it gets a failure reason and is closed at once. */
  maxConnections: number
  /** A socket silent this long (no message, no pong) is closed; pings go out at half of it. */
  idleTimeoutMs: number
  /** Open sockets from one client address (an IPv6 /64 counts as one); beyond: refused and closed. */
  maxConnectionsPerAddress: number
  /** A socket that sends no valid request (announce, answer, scrape) this long after connecting is closed. */
  firstMessageTimeoutMs: number
  /**
   * Offers one socket may send in one second (counting at most maxPeersPerAnnounce per announce:
   * the rest are dropped anyway); an announce that would pass it is refused and changes nothing.
   */
  maxOffersPerSecond: number
  /** Offers relayed to one socket and not yet answered that the tracker remembers (oldest forgotten first). */
  maxPendingOffersPerSocket: number
  /**
   * Distinct peers one listener (its token's subject; its address without auth) may be introduced
   * to (a relayed offer or answer) in any rolling hour; beyond it no new pairing is relayed for it.
   * 0: no limit. Per process or Durable Object (each counts its own).
   */
  maxPeersLearnedPerHour: number
  /** Sockets closed for abuse (rate, size, swarms) within `banMs` before their subject or address is banned; 0: never. */
  banStrikes: number
  /** How long a ban lasts, and the window in which strikes add up. */
  banMs: number
}

interface TrackerRules {
  /** Holders (left = 0) each swarm remembers, most recently active first. Spotify: 20. */
  swarmHolders: number
  /** Other peers each swarm remembers, most recently active first. */
  swarmSeekers: number
  /** Peers one announce reaches at most (offers beyond it are dropped). Spotify: 10. */
  maxPeersPerAnnounce: number
  /** Seconds clients are told to wait between announces. */
  announceIntervalSec: number
  /** Whether scrape is answered; when false it gets a failure reason. */
  scrape: boolean
  /** Whether every socket must present a valid session token before anything else. */
  auth: boolean
  /**
   * Slots one client address may hold in each of a swarm's two lists (holders, seekers), so that
   * an announce's offers reach several addresses; a socket holds at most one (one peer_id per swarm).
   */
  maxListedPerAddress: number
  /** Peers a swarm must have (the announcer included) before offers are relayed in it; 1: always. */
  minSwarmSize: number
  /**
   * Loopback clients (127.0.0.0/8, ::1) are exempt from the per-address rules: they are this
   * machine (tests, benchmarks, a local proxy that does not name the client). Set false to count them.
   */
  exemptLoopback: boolean
}

export interface TrackerOptions extends TrackerLimits, TrackerRules {}

export const DEFAULT_TRACKER_OPTIONS: Readonly<TrackerOptions> = Object.freeze({
  maxMessageChars: 64 * 1024,
  maxSwarmsPerSocket: 32,
  maxAnnouncesPerSecond: 20,
  maxConnections: 10_000,
  idleTimeoutMs: 180_000,
  swarmHolders: 20,
  swarmSeekers: 20,
  maxPeersPerAnnounce: 10,
  announceIntervalSec: 120,
  scrape: true,
  auth: false,
  maxConnectionsPerAddress: 64,
  firstMessageTimeoutMs: 10_000,
  maxOffersPerSecond: 50,
  maxPendingOffersPerSocket: 32,
  banStrikes: 3,
  banMs: 600_000,
  // A listener's normal hour: ~17 tracks (3.5 min each) x ~3 peers per swarm (see README).
  maxPeersLearnedPerHour: 60,
  maxListedPerAddress: 4,
  minSwarmSize: 1,
  exemptLoopback: true,
})

const POSITIVE_INTEGERS = [
  'maxMessageChars',
  'maxSwarmsPerSocket',
  'maxAnnouncesPerSecond',
  'maxConnections',
  'idleTimeoutMs',
  'swarmHolders',
  'swarmSeekers',
  'maxPeersPerAnnounce',
  'announceIntervalSec',
  'maxConnectionsPerAddress',
  'firstMessageTimeoutMs',
  'maxOffersPerSecond',
  'maxPendingOffersPerSocket',
  'banMs',
  'maxListedPerAddress',
  'minSwarmSize',
] as const satisfies readonly (keyof TrackerOptions)[]
const NON_NEGATIVE_INTEGERS = ['banStrikes', 'maxPeersLearnedPerHour'] as const satisfies readonly (keyof TrackerOptions)[]
const FLAGS = ['scrape', 'auth', 'exemptLoopback'] as const satisfies readonly (keyof TrackerOptions)[]

/** Fills defaults and refuses nonsense with a TypeError naming the option. */
export function resolveTrackerOptions(options: Partial<TrackerOptions> = {}): TrackerOptions {
  const resolved: TrackerOptions = { ...DEFAULT_TRACKER_OPTIONS }
  for (const [key, value] of Object.entries(options)) {
    if (value === undefined) continue
    if (!(key in DEFAULT_TRACKER_OPTIONS)) throw new TypeError(`unknown tracker option: ${key}`)
    ;(resolved as unknown as Record<string, unknown>)[key] = value
  }
  for (const key of POSITIVE_INTEGERS) {
    const value = resolved[key]
    if (!Number.isSafeInteger(value) || value <= 0) {
      throw new TypeError(`tracker option ${key} must be a positive integer, got ${String(value)}`)
    }
  }
  for (const key of NON_NEGATIVE_INTEGERS) {
    const value = resolved[key]
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new TypeError(`tracker option ${key} must be a non-negative integer, got ${String(value)}`)
    }
  }
  for (const key of FLAGS) {
    if (typeof resolved[key] !== 'boolean') throw new TypeError(`tracker option ${key} must be a boolean`)
  }
  return resolved
}

/**
 * How often an adapter should call `tick()`: a quarter of the shortest timeout (idle, first
 * message), so that a deadline is enforced at most a quarter late, within [50 ms, `maxMs`].
 */
export function sweepIntervalMs(options: TrackerOptions, maxMs: number): number {
  return Math.max(50, Math.min(maxMs, Math.floor(Math.min(options.idleTimeoutMs, options.firstMessageTimeoutMs) / 4)))
}
