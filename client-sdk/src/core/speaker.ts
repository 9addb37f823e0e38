/**
 * A virtual speaker: where playback is, given the audio available and the time. It plays at
 * `speed` times real time from the moment the first audio is there, stops (a stall) when it
 * reaches the end of the contiguous audio before the end of the track, and goes on when more
 * arrives. Pure: the caller passes the time, and calls update() just before the available
 * audio grows, so a gap between two calls is accounted for exactly, not at tick resolution.
 *
 * In a browser the page's audio element is the real speaker and reports its position instead
 * (see report()); the stall accounting is the same.
 */
type SpeakerEvent = { type: 'start'; at: number } | { type: 'stall'; at: number } | { type: 'resume'; at: number; stalledMs: number } | { type: 'end'; at: number }

interface SpeakerState {
  started: boolean
  positionMs: number
  stalled: boolean
  stalls: number
  stalledMs: number
  ended: boolean
}

/** One virtual speaker; every method takes the time (ms). */
export interface Speaker {
  /** The audio available now reaches `availableUntilMs`: moves the position, and says what happened since the last call (start, stall, resume, end). */
  update(now: number, availableUntilMs: number): SpeakerEvent[]
  /** The real speaker's position (a browser's audio element); stalls are still derived from the data. */
  report(now: number, ms: number): void
  /** Jumps to `ms`: a stall in progress ends there, and the end can come again. */
  seek(now: number, ms: number): void
  /** Position and stall figures; with `now`, a stall in progress counts up to it. */
  state(now?: number): SpeakerState
}

/** Starts at `startMs` of a track of `durationMs`, at `speed` times real time (1). */
export function createSpeaker(options: { startMs: number; durationMs: number; speed?: number }): Speaker {
  const speed = options.speed ?? 1
  let lastNow = 0
  let positionMs = options.startMs
  let started = false
  let stalled = false
  let stallStart = 0
  let stalls = 0
  let stalledMs = 0
  let ended = false

  function update(now: number, availableUntilMs: number): SpeakerEvent[] {
    const events: SpeakerEvent[] = []
    if (ended) return events
    if (!started) {
      if (availableUntilMs > positionMs) {
        started = true
        lastNow = now
        events.push({ type: 'start', at: now })
      }
      return events
    }
    if (stalled) {
      if (availableUntilMs > positionMs || availableUntilMs >= options.durationMs) {
        stalled = false
        stalledMs += now - stallStart
        events.push({ type: 'resume', at: now, stalledMs: now - stallStart })
        lastNow = now
      } else {
        return events
      }
    }
    const cap = Math.min(availableUntilMs, options.durationMs)
    const next = positionMs + (now - lastNow) * speed
    if (next >= cap) {
      // It reached the cap at this moment, not at `now`.
      const reachedAt = lastNow + Math.max(0, cap - positionMs) / speed
      positionMs = cap
      if (cap >= options.durationMs) {
        ended = true
        events.push({ type: 'end', at: reachedAt })
      } else {
        stalled = true
        stalls++
        stallStart = reachedAt
        events.push({ type: 'stall', at: reachedAt })
        // The data that ends this stall may arrive in this same call's successor; a stall
        // that ends at once still counts, as a listener would hear the gap.
      }
    } else {
      positionMs = next
    }
    lastNow = now
    return events
  }

  return {
    update,
    report(now, ms) {
      positionMs = Math.max(0, Math.min(ms, options.durationMs))
      lastNow = now
    },
    seek(now, ms) {
      positionMs = ms
      lastNow = now
      if (stalled) {
        stalled = false
        stalledMs += now - stallStart
      }
      ended = false
    },
    state(now) {
      return { started, positionMs, stalled, stalls, stalledMs: stalledMs + (stalled && now !== undefined ? now - stallStart : 0), ended }
    },
  }
}
