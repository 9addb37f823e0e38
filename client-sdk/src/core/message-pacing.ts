/**
 * How fast one tracker socket sends, as a pure core (the caller passes the time): at most
 * `maxMessages` in any `windowMs`, in order. A tracker closes a socket that sends more than its
 * limit (Chorus's: 20 a second) and counts by arrival, so the window is a second plus a margin: a
 * busy tracker that reads one batch late would otherwise see two batches inside one of its
 * seconds (seen in CI under load). The tracker client (p2p/tracker-client.ts) queues what may not
 * leave yet; the simulation sends each message at the time this core gives.
 */
export interface PacingRules {
  maxMessages: number
  windowMs: number
}

/** Under Chorus's tracker limit of 20 a second, with room for frames that bunch up in transit. */
export const DEFAULT_TRACKER_PACING: PacingRules = { maxMessages: 15, windowMs: 1300 }

export interface MessagePacer {
  /** The earliest time, `now` or later, at which the next message may leave. */
  nextAt(now: number): number
  /** A message left at `at` (no earlier than the one before it). */
  sent(at: number): void
  /** A new socket: the tracker counts afresh. */
  reset(): void
}

export function createMessagePacer(rules: PacingRules = DEFAULT_TRACKER_PACING): MessagePacer {
  // The last maxMessages departures, oldest first: the next may leave a window after the oldest of them.
  const sentAt: number[] = []
  return {
    nextAt(now) {
      return sentAt.length < rules.maxMessages ? now : Math.max(now, sentAt[sentAt.length - rules.maxMessages]! + rules.windowMs)
    },
    sent(at) {
      sentAt.push(at)
      if (sentAt.length > rules.maxMessages) sentAt.shift()
    },
    reset() {
      sentAt.length = 0
    },
  }
}
