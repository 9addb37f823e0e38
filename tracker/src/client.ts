// A small WebSocket tracker client for Chorus's SDK: one socket to one tracker URL that comes back
// after every drop. A deploy of the Durable Object tracker drops every socket at once, so the
// retries are spread with jitter instead of arriving together.

import type { TrackerReply, TrackerRequest } from '../../protocol/src/tracker.js'
import { TRACKER_PING, TRACKER_PONG } from '../../protocol/src/tracker.js'

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
  /** Whether to come back after a close with this code; by default not after an auth refusal. */
  shouldReconnect?: (code: number) => boolean
  random?: () => number
  setTimer?: (fn: () => void, ms: number) => unknown
  clearTimer?: (timer: unknown) => void
}

export interface TrackerClient {
  /** False when not connected (the request is not queued: announce again from onOpen). */
  send(request: TrackerRequest): boolean
  readonly connected: boolean
  /** How many connections this client has opened. */
  readonly connections: number
  close(): void
}

const OPEN = 1

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
    setTimer = (fn, ms) => setTimeout(fn, ms),
    clearTimer = (timer) => clearTimeout(timer as ReturnType<typeof setTimeout>),
  } = options
  let socket: WebSocketLike | undefined
  let attempt = 0
  let connections = 0
  let closed = false
  let retryTimer: unknown
  let pingTimer: unknown

  function schedulePing(): void {
    if (pingIntervalMs === undefined) return
    pingTimer = setTimer(() => {
      if (socket?.readyState === OPEN) socket.send(TRACKER_PING)
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
      socket.send(JSON.stringify(request))
      return true
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
      socket?.close(1000, 'client closing')
      socket = undefined
    },
  }
}
