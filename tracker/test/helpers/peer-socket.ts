// A raw WebSocket to a tracker for tests: send anything (valid or not), await the next frame.
// Waits are bounded so that a missing reply fails the test instead of hanging it.

import { randomBytes } from 'node:crypto'
import { WebSocket } from 'ws'

export type Frame = Record<string, unknown> & { raw: string }

export interface PeerSocket {
  readonly ws: WebSocket
  send(message: unknown): void
  /** The next frame (optionally the next one matching `accept`); earlier non-matching frames stay queued. */
  next(accept?: (frame: Frame) => boolean, timeoutMs?: number): Promise<Frame>
  /** Frames received and not yet taken by next(). */
  readonly queued: Frame[]
  readonly closed: Promise<{ code: number; reason: string }>
  readonly isOpen: boolean
  close(): Promise<void>
}

const WAIT_MS = 10_000

export interface ConnectOptions {
  autoPong?: boolean
  /** Local address to connect from (any of 127.0.0.0/8 here): the client address the tracker sees. */
  from?: string
}

export async function connectPeer(url: string, options: ConnectOptions = {}): Promise<PeerSocket> {
  // After the closing handshake, wait only briefly for the server to end TCP: workerd holds it
  // for about 10 s when the client never sent a message (browsers give up early too).
  const ws = new WebSocket(url, {
    autoPong: options.autoPong ?? true,
    closeTimeout: 300,
    ...(options.from !== undefined && { localAddress: options.from }),
  } as WebSocket.ClientOptions)
  const queued: Frame[] = []
  const waiters: Array<{ accept: (f: Frame) => boolean; resolve: (f: Frame) => void }> = []
  ws.on('message', (data) => {
    const raw = data.toString()
    let frame: Frame
    try {
      const parsed = JSON.parse(raw) as unknown
      frame = typeof parsed === 'object' && parsed !== null ? { ...(parsed as Record<string, unknown>), raw } : { raw }
    } catch {
      frame = { raw }
    }
    const index = waiters.findIndex((w) => w.accept(frame))
    if (index >= 0) waiters.splice(index, 1)[0]?.resolve(frame)
    else queued.push(frame)
  })
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() }))
  })
  ws.on('error', () => {})
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve())
    ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)))
    ws.once('error', reject)
  })
  return {
    ws,
    queued,
    closed,
    get isOpen() {
      return ws.readyState === WebSocket.OPEN
    },
    send(message) {
      ws.send(typeof message === 'string' || Buffer.isBuffer(message) ? message : JSON.stringify(message))
    },
    next(accept = () => true, timeoutMs = WAIT_MS) {
      const index = queued.findIndex(accept)
      if (index >= 0) return Promise.resolve(queued.splice(index, 1)[0] as Frame)
      return new Promise((resolve, reject) => {
        const waiter = {
          accept,
          resolve: (frame: Frame) => {
            clearTimeout(timer)
            resolve(frame)
          },
        }
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(waiter), 1)
          reject(new Error(`no matching frame within ${timeoutMs} ms; queued: ${queued.map((f) => f.raw.slice(0, 120)).join(' | ')}`))
        }, timeoutMs)
        waiters.push(waiter)
      })
    },
    async close() {
      if (ws.readyState === WebSocket.CLOSED) return
      ws.close()
      await closed
    },
  }
}

/** Waits for the socket to close, failing after WAIT_MS. */
export function closedWithin(peer: PeerSocket, ms = WAIT_MS): Promise<{ code: number; reason: string }> {
  return Promise.race([peer.closed, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`socket still open after ${ms} ms`)), ms).unref())])
}

let addressSeq = 0
/** A fresh loopback address (127.10.0.1, 127.10.0.2, ...) to connect from: a distinct client to the tracker. */
export function freshAddress(): string {
  const n = ++addressSeq
  return `127.10.${(n >> 8) & 255}.${n & 255 || 1}`
}

/** A fresh random 20-byte id in the binary (latin1) wire form stock clients use. */
export function binaryId(): string {
  return randomBytes(20).toString('latin1')
}
/** A fresh random id in 40-char hex. */
export function hexId(): string {
  return randomBytes(20).toString('hex')
}
