// A small WebSocket tracker client for Chorus's SDK: one socket to one tracker URL that comes back
// after every drop. A deploy of the Durable Object tracker drops every socket at once, so the
// retries are spread with jitter instead of arriving together.

import type { ChorusTrack, TrackerReply, TrackerRequest } from '../../../protocol/index.js'
import { TRACKER_PING, TRACKER_PONG } from '../../../protocol/index.js'
import { DEFAULT_TRACKER_PACING, createMessagePacer } from '../core/message-pacing.js'

/** The part of the WebSocket API this client uses; browsers, Workers and `ws` all provide it. */
export interface WebSocketLike {
  readonly readyState: number
  send(data: string): void
  close(code?: number, reason?: string): void
  addEventListener(type: 'open', listener: (event: unknown) => void): void
  addEventListener(type: 'message', listener: (event: { data: unknown }) => void): void
  addEventListener(type: 'close', listener: (event: { code: number; reason: string }) => void): void
  addEventListener(type: 'error', listener: (event: unknown) => void): void
}
export type WebSocketConstructor = new (url: string) => WebSocketLike

export interface TrackerClientOptions {
  url: string
  WebSocket: WebSocketConstructor
  /** Called on every (re)connection: announce again here, the tracker has forgotten this socket. */
  onOpen?: () => void
  onMessage?: (reply: TrackerReply) => void
  onClose?: (event: { code: number; reason: string; reconnectInMs: number | null }) => void
  /** First retry after about this long; doubles per failed attempt up to maxDelayMs. */
  minDelayMs?: number
  maxDelayMs?: number
  /** Send a text "ping" this often (trackers on Durable Objects cannot ping clients themselves). */
  pingIntervalMs?: number
  /**
   * At most this many messages (pings included) in any one second, queued beyond that. A tracker
   * closes a socket that sends more than its limit (Chorus's: 20 a second); the default leaves room
   * under it for messages that leave a second apart and arrive closer together.
   */
  maxMessagesPerSecond?: number
  /** Messages waiting beyond which send() refuses (returns false). */
  maxQueued?: number
  /** Whether to come back after a close with this code; by default not after an auth refusal. */
  shouldReconnect?: (code: number) => boolean
  random?: () => number
  now?: () => number
  setTimer?: (fn: () => void, ms: number) => unknown
  clearTimer?: (timer: unknown) => void
}

export interface TrackerClient {
  /**
   * Sends now, or queues while this second's messages are spent. False when not connected or the
   * queue is full: nothing is kept across a reconnection (announce again from onOpen).
   */
  send(request: TrackerRequest): boolean
  /** Messages waiting for the next second. */
  readonly queued: number
  readonly connected: boolean
  /** How many connections this client has opened. */
  readonly connections: number
  close(): void
}

const OPEN = 1

/**
 * The `chorus_track` field of an announce: which track (version, quality) its swarm is for. A
 * Chorus tracker recomputes the info_hash from it and lets a session token that covers some
 * tracks only (a `tracks` claim) into those tracks' swarms only; without it such a token's
 * announce is refused (`track_not_covered`). Send it with every announce (not needed on answers).
 */
export function chorusTrack(quality: { trackId: string; version: string; bitrate: number }): ChorusTrack {
  return { id: quality.trackId, version: quality.version, bitrate: quality.bitrate }
}

/** Under Chorus's tracker limit of 20 a second, with room for frames that bunch up in transit (core/message-pacing.ts). */
export const DEFAULT_MAX_MESSAGES_PER_SECOND = DEFAULT_TRACKER_PACING.maxMessages

/** Half of the capped exponential delay is fixed, half random ("equal jitter"). */
export function reconnectDelay(attempt: number, minMs: number, maxMs: number, random: () => number): number {
  const cap = Math.min(maxMs, minMs * 2 ** attempt)
  return Math.round(cap / 2 + random() * (cap / 2))
}

export function createTrackerClient(options: TrackerClientOptions): TrackerClient {
  const {
    url,
    WebSocket,
    minDelayMs = 1000,
    maxDelayMs = 60_000,
    pingIntervalMs,
    shouldReconnect = (code) => code !== 4401 && code !== 4403,
    random = Math.random,
    now = Date.now,
    maxMessagesPerSecond = DEFAULT_MAX_MESSAGES_PER_SECOND,
    maxQueued = 1000,
    setTimer = (fn, ms) => setTimeout(fn, ms),
    clearTimer = (timer) => clearTimeout(timer as ReturnType<typeof setTimeout>),
  } = options
  let socket: WebSocketLike | undefined
  let attempt = 0
  let connections = 0
  let closed = false
  let retryTimer: unknown
  let pingTimer: unknown

  // What may not leave yet by the pacing core waits in `queue` for a timer.
  const pacer = createMessagePacer({ ...DEFAULT_TRACKER_PACING, maxMessages: maxMessagesPerSecond })
  let queue: string[] = []
  let flushTimer: unknown

  function spare(): boolean {
    const t = now()
    return pacer.nextAt(t) <= t
  }

  function transmit(text: string): void {
    pacer.sent(now())
    socket!.send(text)
  }

  function flush(): void {
    flushTimer = undefined
    if (socket?.readyState !== OPEN) return
    while (queue.length > 0 && spare()) transmit(queue.shift()!)
    if (queue.length > 0) {
      const t = now()
      flushTimer = setTimer(flush, Math.max(1, pacer.nextAt(t) - t))
    }
  }

  function dropQueue(): void {
    queue = []
    if (flushTimer !== undefined) clearTimer(flushTimer)
    flushTimer = undefined
  }

  function schedulePing(): void {
    if (pingIntervalMs === undefined) return
    pingTimer = setTimer(() => {
      // A ping is worth sending only when nothing else is: any message keeps the socket alive.
      if (socket?.readyState === OPEN && queue.length === 0 && spare()) transmit(TRACKER_PING)
      schedulePing()
    }, pingIntervalMs)
  }

  function connect(): void {
    const ws = new WebSocket(url)
    socket = ws
    connections++
    ws.addEventListener('open', () => {
      attempt = 0
      schedulePing()
      options.onOpen?.()
    })
    ws.addEventListener('message', (event) => {
      if (typeof event.data !== 'string' || event.data === TRACKER_PONG) return
      let reply: TrackerReply
      try {
        reply = JSON.parse(event.data) as TrackerReply
      } catch {
        return
      }
      options.onMessage?.(reply)
    })
    ws.addEventListener('error', () => {
      // 'close' follows.
    })
    ws.addEventListener('close', (event) => {
      if (socket !== ws) return
      socket = undefined
      clearTimer(pingTimer)
      dropQueue()
      // A new socket starts a new second at the tracker.
      pacer.reset()
      const retry = !closed && shouldReconnect(event.code)
      const delay = retry ? reconnectDelay(attempt++, minDelayMs, maxDelayMs, random) : null
      options.onClose?.({ code: event.code, reason: event.reason, reconnectInMs: delay })
      if (delay !== null) retryTimer = setTimer(connect, delay)
    })
  }

  connect()
  return {
    send(request) {
      if (socket?.readyState !== OPEN) return false
      const text = JSON.stringify(request)
      if (queue.length === 0 && spare()) {
        transmit(text)
        return true
      }
      if (queue.length >= maxQueued) return false
      queue.push(text)
      if (flushTimer === undefined) flush()
      return true
    },
    get queued() {
      return queue.length
    },
    get connected() {
      return socket?.readyState === OPEN
    },
    get connections() {
      return connections
    },
    close() {
      closed = true
      clearTimer(retryTimer)
      clearTimer(pingTimer)
      dropQueue()
      socket?.close(1000, 'client closing')
      socket = undefined
    },
  }
}
