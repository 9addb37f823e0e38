// `chorus tracker` in one process: the tracker core on a `ws` server, with /healthz and /metrics
// on the same HTTP port.

import type { AddressInfo } from 'node:net'
import type { TokenVerifier } from './auth.js'
import { createTokenVerifier } from './auth.js'
import { renderMetrics } from './core/metrics.js'
import type { TrackerCore, TrackerCoreOptions } from './core/tracker-core.js'
import { createTrackerCore } from './core/tracker-core.js'
import { createHttpFront } from './http-front.js'
import { checkOperatorToken } from './operator.js'
import { createWsAdapter } from './ws-adapter.js'

export interface TrackerServerOptions extends TrackerCoreOptions {
  host?: string
  port?: number
  /** Turns auth on: the origin's public key (base64url), which checks tokens (audience tracker, scope "announce"). */
  authKey?: string
  /** Or bring your own check (auth is then on). */
  verifyToken?: TokenVerifier
  /** Request header that carries the client's network, set by a proxy you trust (e.g. "cf-ipcountry"). */
  networkHeader?: string
  /** Request header that carries the client's IP address, set by a proxy you trust (e.g. "x-real-ip"). */
  addressHeader?: string
  /** A socket whose unsent replies exceed this many bytes is not reading: it is closed. */
  maxBufferedBytes?: number
  /** When set, /metrics (and the figures of /healthz) need `Authorization: Bearer <it>`. */
  operatorToken?: string
}

export interface TrackerServer {
  readonly core: TrackerCore
  /** Resolves once it accepts connections; `url` is http://host:port (WebSocket at ws://host:port/announce). */
  listen(): Promise<{ url: string; port: number }>
  metrics(): string
  close(): Promise<void>
}

export function createTrackerServer(options: TrackerServerOptions = {}): TrackerServer {
  const { host = '127.0.0.1', port = 0, authKey, verifyToken, networkHeader, addressHeader, maxBufferedBytes, operatorToken, ...coreOptions } = options
  checkOperatorToken(operatorToken, 'operatorToken')
  const verify = verifyToken ?? (authKey !== undefined ? createTokenVerifier(authKey, coreOptions.now) : undefined)
  const core = createTrackerCore({ ...coreOptions, auth: coreOptions.auth ?? verify !== undefined })
  const adapter = createWsAdapter({
    core,
    ...(verify !== undefined && { verify }),
    ...(networkHeader !== undefined && { networkHeader }),
    ...(addressHeader !== undefined && { addressHeader }),
    ...(maxBufferedBytes !== undefined && { maxBufferedBytes }),
  })
  const metrics = () => renderMetrics(core.stats(), adapter.counters())
  const http = createHttpFront({
    ...(operatorToken !== undefined && { operatorToken }),
    health: async () => {
      const { connections, swarms, peers } = core.stats()
      return { connections, swarms, peers }
    },
    metrics: async () => metrics(),
    upgrade: (request, socket, head) => adapter.handleUpgrade(request, socket, head),
  })

  return {
    core,
    metrics,
    listen() {
      return new Promise((resolve, reject) => {
        http.once('error', reject)
        http.listen(port, host, () => {
          http.off('error', reject)
          const address = http.address() as AddressInfo
          const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address
          resolve({ url: `http://${shownHost}:${address.port}`, port: address.port })
        })
      })
    },
    close() {
      adapter.close()
      return new Promise((resolve) => {
        http.close(() => resolve())
        http.closeAllConnections()
      })
    },
  }
}
