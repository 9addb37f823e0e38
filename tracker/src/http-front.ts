// The HTTP side of a Node tracker: WebSocket upgrades on tracker paths, /healthz and /metrics,
// and a JSON error for anything else.

import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import { createServer } from 'node:http'
import type { Duplex } from 'node:stream'
import type { TrackerRoute } from './core/route.js'
import { parseTrackerPath } from './core/route.js'
import { OPERATOR_UNAUTHORIZED, operatorAuthorized } from './operator.js'
import { badTargetMessage, parseRequestTarget } from './request-target.js'

export interface HttpFrontOptions {
  /** When set, /metrics and the figures of /healthz need `Authorization: Bearer <it>`. */
  operatorToken?: string
  health(): Promise<Record<string, unknown>>
  metrics(): Promise<string>
  upgrade(request: IncomingMessage, socket: Duplex, head: Buffer, route: TrackerRoute): void
}

export function createHttpFront(options: HttpFrontOptions): Server {
  const server = createServer((request, response) => {
    onRequest(request, response).catch((error: unknown) => {
      // Too late for a JSON answer once the head is out: end the exchange instead.
      if (response.headersSent) response.destroy()
      else json(response, 500, { error: { code: 'internal', message: String(error) } })
    })
  })
  async function onRequest(request: IncomingMessage, response: ServerResponse): Promise<void> {
    // The operator page, served by the edge on another port, reads these figures.
    response.setHeader('access-control-allow-origin', '*')
    const target = parseRequestTarget(request.url)
    if (target === null) return json(response, 400, { error: { code: 'bad_request', message: badTargetMessage(request.url) } })
    const { pathname } = target
    if (request.method === 'OPTIONS') {
      // A page on another origin (the operator page) must send Authorization: the browser asks first.
      response.writeHead(204, { 'access-control-allow-methods': 'GET, HEAD, OPTIONS', 'access-control-allow-headers': 'authorization', 'access-control-max-age': '600' })
      response.end()
      return
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') return json(response, 405, { error: { code: 'method_not_allowed', message: 'only GET' } })
    const operator = operatorAuthorized(request.headers.authorization, options.operatorToken)
    // Liveness stays open to load balancers; the figures are the operator's.
    if (pathname === '/healthz') return json(response, 200, operator ? { ok: true, ...(await options.health()) } : { ok: true })
    if (pathname === '/metrics') {
      if (!operator) {
        response.writeHead(OPERATOR_UNAUTHORIZED.status, OPERATOR_UNAUTHORIZED.headers)
        response.end(OPERATOR_UNAUTHORIZED.body)
        return
      }
      const text = await options.metrics()
      response.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' })
      response.end(text)
      return
    }
    if (parseTrackerPath(pathname) !== null) {
      return json(response, 400, { error: { code: 'bad_request', message: 'this is a WebSocket tracker: connect with a WebSocket' } })
    }
    json(response, 404, { error: { code: 'not_found', message: `no route ${pathname}` } })
  }
  // No per-socket listener on the way through: ws adds its own error handling as it takes the
  // socket over, and a closure per socket would outlive the handshake. Nothing here may throw:
  // an exception in an 'upgrade' listener ends the process.
  server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    const target = parseRequestTarget(request.url)
    if (target === null) return rejectUpgrade(socket, 400, 'bad_request', badTargetMessage(request.url))
    const { pathname } = target
    const route = parseTrackerPath(pathname)
    if (route === null) return rejectUpgrade(socket, 404, 'not_found', `no tracker at ${pathname.slice(0, 64)}: use /announce or /swarm/<info_hash>`)
    try {
      options.upgrade(request, socket, head, route)
    } catch (error) {
      // A bug, not bad input (that is answered above or by ws): lose this socket, not the process.
      process.stderr.write(`tracker: upgrade failed: ${String(error)}\n`)
      socket.destroy()
    }
  })
  return server
}

export function destroyOnError(this: Duplex): void {
  this.destroy()
}

export function rejectUpgrade(socket: Duplex, status: number, code: string, message: string): void {
  socket.on('error', destroyOnError)
  const body = JSON.stringify({ error: { code, message } })
  socket.end(`HTTP/1.1 ${status} ${code}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`)
}

function json(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json' })
  response.end(JSON.stringify(body))
}
