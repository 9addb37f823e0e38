// "Start a tracker" factories for the compliance suite: the Node `ws` server in this process, and
// the Durable Object in real workerd through the Miniflare API.

import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { bundleWorkerScript } from '../../../support/worker-bundle.js'
import { Miniflare } from 'miniflare'
import { envName } from '../../src/config.js'
import type { TrackerOptions } from '../../src/core/options.js'
import { createShardedTracker } from '../../src/cluster.js'
import { createTrackerServer } from '../../src/server.js'

type TrackerTestOptions = Partial<TrackerOptions> & { authKey?: string; operatorToken?: string }

export interface StartedTracker {
  /** ws://host:port/announce */
  wsUrl: string
  /** http://host:port */
  httpUrl: string
  /** Whether the server pings clients itself (the Durable Object cannot). */
  protocolPings: boolean
  /** The operator token /metrics needs, when the tracker was started with one. */
  operatorToken?: string
  close(): Promise<void>
}

export type StartTracker = (options: TrackerTestOptions) => Promise<StartedTracker>

export const startNodeTracker: StartTracker = async ({ authKey, operatorToken, ...options }) => {
  const server = createTrackerServer({ ...options, ...(authKey === undefined ? {} : { authKey }), ...(operatorToken === undefined ? {} : { operatorToken }), port: 0 })
  const { url } = await server.listen()
  return { httpUrl: url, wsUrl: `${url.replace(/^http/, 'ws')}/announce`, protocolPings: true, ...(operatorToken !== undefined && { operatorToken }), close: () => server.close() }
}

let bundled: Promise<string> | undefined

/** Bundles tracker/src/worker.ts once per test process, as wrangler would. */
function bundleWorker(): Promise<string> {
  bundled ??= (async () => {
    const dir = mkdtempSync(join(tmpdir(), 'chorus-tracker-worker-'))
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }))
    await bundleWorkerScript(fileURLToPath(new URL('../../src/worker.ts', import.meta.url)), join(dir, 'worker.js'))
    return dir
  })()
  return bundled
}

export const startWorkerdTracker: StartTracker = async ({ authKey, operatorToken, ...options }) => {
  const dir = await bundleWorker()
  const bindings: Record<string, string> = { TRACKER_SHARDS: '1' }
  for (const [key, value] of Object.entries(options)) bindings[envName(key as keyof TrackerOptions)] = String(value)
  // Without a key the object refuses every announce (fail closed): the open tracker is asked for.
  if (authKey !== undefined) bindings.ORIGIN_PUBLIC_KEY = authKey
  else if (bindings.TRACKER_AUTH === undefined) bindings.TRACKER_AUTH = 'false'
  if (operatorToken !== undefined) bindings.CHORUS_OPERATOR_TOKEN = operatorToken
  const mf = new Miniflare({
    modules: true,
    modulesRoot: dir,
    scriptPath: join(dir, 'worker.js'),
    compatibilityDate: '2026-04-01',
    durableObjects: { TRACKER: { className: 'TrackerShard', useSQLite: true } },
    bindings,
    host: '127.0.0.1',
    port: 0,
  })
  const url = (await mf.ready).toString().replace(/\/$/, '')
  return { httpUrl: url, wsUrl: `${url.replace(/^http/, 'ws')}/announce`, protocolPings: false, ...(operatorToken !== undefined && { operatorToken }), close: () => mf.dispose() }
}

/** The sharded Node tracker (primary + shard processes); `shards` 1 runs the whole suite through the socket hand-off. */
export function startClusterTracker(shards: number): StartTracker {
  return async ({ authKey, operatorToken, ...options }) => {
    const tracker = createShardedTracker({ ...options, shards, ...(authKey === undefined ? {} : { authKey }), ...(operatorToken === undefined ? {} : { operatorToken }), port: 0 })
    const { url } = await tracker.listen()
    return { httpUrl: url, wsUrl: `${url.replace(/^http/, 'ws')}/announce`, protocolPings: true, ...(operatorToken !== undefined && { operatorToken }), close: () => tracker.close() }
  }
}
