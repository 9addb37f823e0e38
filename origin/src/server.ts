import { type ServerResponse, createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { getRequestListener } from '@hono/node-server'
import { CHUNK_PREFIX, type HttpAnswer, answerBytes } from '../../protocol/index.js'
import { createApiKeys } from './api-keys.js'
import { createOriginApp, createRequestObserver, originErrorAnswer } from './app.js'
import { chunkResponse } from './chunk-response.js'
import { loadOriginKeys, type OriginKeys } from './keys.js'
import { createMetrics } from './metrics.js'
import type { MasterReader, TrackKeyReader } from './storage.js'
import { createStore, sweepStaging } from './store.js'

export interface OriginServerOptions {
  dataDir: string
  host?: string
  port?: number
  memoryBytes?: number
  tokenTtlSec?: number
  manifestMaxAgeSec?: number
  log?: (line: Record<string, unknown>) => void
  env?: NodeJS.ProcessEnv
  /**
   * Masters from elsewhere than dataDir/tracks (a bucket over the S3 API: s3-store.ts), and the
   * keys that open them; dataDir still holds the signing key and config.json.
   */
  masters?: { store: MasterReader; trackKeys: TrackKeyReader }
}

export interface OriginServer {
  url: string
  port: number
  keys: OriginKeys
  close(): Promise<void>
}

/**
 * Binds the origin to a Node HTTP server: the only part of the origin that knows about sockets.
 * Chunk GETs, nearly all of an origin's traffic, skip the Fetch-API translation and write the
 * same plain response the Hono route would build (see chunk-response.ts); everything else goes
 * through Hono.
 */
export async function startOrigin(options: OriginServerOptions): Promise<OriginServer> {
  const env = options.env ?? process.env
  await sweepStaging(options.dataDir)
  const keys = await loadOriginKeys(options.dataDir, env)
  const directory = options.masters ? undefined : createStore({ dataDir: options.dataDir, ...(options.memoryBytes !== undefined && { memoryBytes: options.memoryBytes }) })
  const store = options.masters?.store ?? directory!
  const metrics = createMetrics('chorus_origin')
  const appOptions = {
    store,
    trackKeys: options.masters?.trackKeys ?? directory!,
    keys,
    apiKeys: createApiKeys(options.dataDir, env),
    metrics,
    ...(options.tokenTtlSec !== undefined && { tokenTtlSec: options.tokenTtlSec }),
    ...(options.manifestMaxAgeSec !== undefined && { manifestMaxAgeSec: options.manifestMaxAgeSec }),
    ...(options.log && { log: options.log }),
    ...(env.CHORUS_OPERATOR_TOKEN && { operatorToken: env.CHORUS_OPERATOR_TOKEN }),
  }
  const honoListener = getRequestListener(createOriginApp(appOptions).fetch)
  const observe = createRequestObserver(appOptions)

  // Named functions, not closures per request: the hot path allocates nothing it can avoid.
  function send(res: ServerResponse, url: string, r: HttpAnswer, started: number): void {
    res.writeHead(r.status, r.headers)
    res.end(r.body ?? undefined)
    observe({ method: 'GET', path: url, status: r.status, bytes: answerBytes(r), ms: performance.now() - started })
  }

  function fail(res: ServerResponse, url: string, err: unknown, started: number): void {
    send(res, url, originErrorAnswer(err, url, appOptions.log), started)
  }

  const server = createServer((req, res) => {
    const url = req.url ?? '/'
    if (req.method !== 'GET' || !url.startsWith(CHUNK_PREFIX) || url.includes('?') || url.includes('%')) {
      void honoListener(req, res)
      return
    }
    const started = performance.now()
    let r: HttpAnswer | Promise<HttpAnswer>
    try {
      r = chunkResponse(store, url, { range: req.headers.range, ifNoneMatch: req.headers['if-none-match'] })
    } catch (err) {
      fail(res, url, err, started)
      return
    }
    if (r instanceof Promise)
      r.then(
        (done) => send(res, url, done, started),
        (err: unknown) => fail(res, url, err, started),
      )
    else send(res, url, r, started)
  })
  const host = options.host ?? '127.0.0.1'
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  const port = (server.address() as AddressInfo).port
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    keys,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        // Keep-alive sockets would hold close() open until they time out.
        server.closeAllConnections()
      }),
  }
}
