// Runs a tracker core on `ws` sockets: moves frames between sockets and the core and carries out
// its effects. No HTTP here: the single-process server and the shard workers both feed it
// upgraded sockets.

import type { IncomingMessage } from 'node:http'
import type { Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import { WebSocket, WebSocketServer } from 'ws'
import type { TokenVerifier } from './auth.js'
import { sweepIntervalMs } from './core/options.js'
import type { TrackerCore, TrackerEffect } from './core/tracker-core.js'
import { rejectUpgrade } from './http-front.js'
import { badTargetMessage, parseRequestTarget } from './request-target.js'

export interface WsAdapterOptions {
  core: TrackerCore
  /** Required when the core has auth on. */
  verify?: TokenVerifier
  /** Request header that carries the client's network, set by a proxy you trust. */
  networkHeader?: string
  /**
   * Request header that carries the client's IP address, set by a proxy you trust (e.g.
   * "x-real-ip"); without it the per-address rules count the TCP peer, i.e. the proxy.
   */
  addressHeader?: string
  /** A socket whose unsent replies exceed this many bytes is not reading: it is closed. */
  maxBufferedBytes?: number
}

export interface WsAdapter {
  /**
   * Takes an upgrade request for a tracker path. `addressFull`: the sharded tracker's primary,
   * which counts connections per address over all shards, found this address at its cap.
   */
  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer, addressFull?: boolean): void
  /** Counters the core cannot see. */
  counters(): { slow_consumers_closed: number; oversized_frames_closed: number }
  close(): void
}

export function createWsAdapter(options: WsAdapterOptions): WsAdapter {
  const { core, verify, networkHeader, addressHeader, maxBufferedBytes = 1 << 20 } = options
  if (core.options.auth && verify === undefined) throw new TypeError('the core requires auth but no token verifier is given')
  let slowConsumers = 0
  let oversizedFrames = 0

  /**
   * The core's socket id rides on the socket (and the socket on the core's state, as its handle:
   * no map from one to the other), and events go to methods of the class rather than to
   * listeners: four listener closures per socket would cost more memory than the tracker's own
   * state for it.
   */
  class TrackerSocket extends WebSocket {
    trackerId = 0
    /** The TCP socket under this WebSocket: ws writes its frames to it. */
    raw: Duplex | undefined

    override emit(event: string | symbol, ...args: unknown[]): boolean {
      switch (event) {
        case 'message': {
          // binaryType stays 'nodebuffer', so data is one Buffer.
          const data = args[0] as Buffer
          apply(core.message(this.trackerId, args[1] === true ? data : data.toString()))
          return true
        }
        case 'pong':
          core.pong(this.trackerId)
          return true
        case 'close':
          core.close(this.trackerId)
          return true
        case 'error':
          // A frame over 4x the limit: ws closes with 1009 before the core sees it (no failure
          // reason can follow a close frame), so it is counted here. A 'close' always follows;
          // the core learns of the loss there.
          if ((args[0] as { code?: string } | undefined)?.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') oversizedFrames++
          return true
        default:
          return super.emit(event, ...args)
      }
    }
  }

  const wss = new WebSocketServer({
    noServer: true,
    // Frames up to 4x the limit reach the core, which answers with a failure reason; beyond that
    // ws drops the socket itself (1009) so that one socket cannot make the process buffer more.
    maxPayload: core.options.maxMessageChars * 4,
    perMessageDeflate: false,
    clientTracking: false,
    WebSocket: TrackerSocket,
  })

  // Frames for one socket produced in the same turn of the event loop (offers from several
  // announcers reach a holder together under load) leave in one write: from the second frame of
  // a turn on, the socket is corked, and uncorked once the turn's I/O is handled. A write per
  // frame was the tracker's largest cost when relaying offers; a lone reply is written at once.
  const sentThisTurn = new Set<Duplex>()
  const corked: Duplex[] = []
  let flushScheduled = false
  function flush(): void {
    flushScheduled = false
    for (const raw of corked) raw.uncork()
    corked.length = 0
    sentThisTurn.clear()
  }
  function batch(raw: Duplex): void {
    if (!flushScheduled) {
      flushScheduled = true
      setImmediate(flush)
    }
    if (!sentThisTurn.has(raw)) sentThisTurn.add(raw)
    else if (raw.writableCorked === 0) {
      raw.cork()
      corked.push(raw)
    }
  }

  function apply(effects: TrackerEffect[]): void {
    for (const effect of effects) {
      const ws = effect.handle as TrackerSocket
      switch (effect.type) {
        case 'send':
          if (ws.readyState !== WebSocket.OPEN) break
          if (ws.bufferedAmount > maxBufferedBytes) {
            slowConsumers++
            core.close(ws.trackerId)
            ws.terminate()
            break
          }
          if (ws.raw !== undefined) batch(ws.raw)
          ws.send(effect.data)
          break
        case 'close':
          ws.close(effect.code, effect.reason)
          break
        case 'ping':
          if (ws.readyState === WebSocket.OPEN) ws.ping()
          break
        case 'verify':
          // Checked at creation: there is a verifier whenever the core asks for one.
          ;(verify as TokenVerifier)(effect.token).then(
            (outcome) => apply(core.verified(effect.socket, outcome)),
            (error: unknown) => apply(core.verified(effect.socket, { ok: false, code: 'unauthorized', message: String(error) })),
          )
          break
      }
    }
  }

  const timer = setInterval(() => apply(core.tick()), sweepIntervalMs(core.options, 5000))
  timer.unref()

  return {
    handleUpgrade(request, socket, head, addressFull) {
      // The HTTP front has checked the target already; a shard gets it again over IPC, and a
      // throw here would end the shard and every socket in it.
      const target = parseRequestTarget(request.url)
      if (target === null) return rejectUpgrade(socket, 400, 'bad_request', badTargetMessage(request.url))
      const token = target.searchParams.get('token') ?? undefined
      const header = networkHeader === undefined ? undefined : request.headers[networkHeader.toLowerCase()]
      const network = typeof header === 'string' && header.length > 0 ? header.slice(0, 64) : undefined
      const named = addressHeader === undefined ? undefined : request.headers[addressHeader.toLowerCase()]
      const address = typeof named === 'string' && named.length > 0 ? named : (socket as Socket).remoteAddress
      wss.handleUpgrade(request, socket, head, (ws) => {
        const opened = core.open({ token, network, address, handle: ws, ...(addressFull === true && { addressFull }) })
        ws.trackerId = opened.socket
        ws.raw = socket
        apply(opened.effects)
      })
    },
    counters: () => ({ slow_consumers_closed: slowConsumers, oversized_frames_closed: oversizedFrames }),
    close() {
      clearInterval(timer)
      for (const handle of core.handles()) {
        const ws = handle as TrackerSocket
        core.close(ws.trackerId)
        ws.close(1001, 'tracker shutting down')
        // A peer that never answers the close frame must not hold the shutdown up.
        setTimeout(() => ws.terminate(), 1000).unref()
      }
    },
  }
}
