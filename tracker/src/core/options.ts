// Every rule and limit of the tracker, with its default. Both adapters and the CLI read them from here.

export interface TrackerLimits {
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
}

export interface TrackerRules {
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
] as const satisfies readonly (keyof TrackerOptions)[]

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
  for (const key of ['scrape', 'auth'] as const) {
    if (typeof resolved[key] !== 'boolean') throw new TypeError(`tracker option ${key} must be a boolean`)
  }
  return resolved
}
