// One shard of the sharded Node tracker, in its own process: the primary accepts each connection,
// reads its HTTP upgrade request and hands the socket over here (see cluster.ts).

import type { IncomingMessage } from 'node:http'
import type { Socket } from 'node:net'
import { createTokenVerifier } from './auth.js'
import type { TrackerCoreOptions, TrackerStats } from './core/tracker-core.js'
import { createTrackerCore } from './core/tracker-core.js'
import { destroyOnError } from './http-front.js'
import { createWsAdapter } from './ws-adapter.js'

export interface ShardWorkerConfig {
  index: number
  count: number
  core: Omit<TrackerCoreOptions, 'now' | 'random' | 'shard'>
  networkHeader?: string
  addressHeader?: string
  maxBufferedBytes?: number
}

export type ToShard =
  /** `address`: the client's address key when the per-address cap applies (the primary counts it over all shards). */
  | { type: 'upgrade'; id: number; method: string; url: string; headers: IncomingMessage['headers']; head: string; address?: string; addressFull?: boolean }
  /** The primary has let go of the socket `id`: the upgrade may complete (see cluster.ts). */
  | { type: 'go'; id: number }
  | { type: 'stats'; id: number }
  /** Process memory, after a full GC when node runs with --expose-gc (benchmarks). */
  | { type: 'memory'; id: number }
  | { type: 'close' }

export type FromShard =
  | { type: 'ready' }
  | { type: 'taken'; id: number }
  /** A socket the primary counted under `address` has closed. */
  | { type: 'gone'; address: string }
  | { type: 'stats'; id: number; stats: TrackerStats; counters: Record<string, number> }
  | { type: 'memory'; id: number; pid: number; usage: NodeJS.MemoryUsage }

function main(): void {
  const config = JSON.parse(process.argv[2] ?? '') as ShardWorkerConfig
  const publicKey = process.env.CHORUS_ORIGIN_PUBLIC_KEY
  const verify = config.core.auth && publicKey ? createTokenVerifier(publicKey) : undefined
  const core = createTrackerCore({ ...config.core, shard: { index: config.index, count: config.count } })
  const adapter = createWsAdapter({
    core,
    ...(verify !== undefined && { verify }),
    ...(config.networkHeader !== undefined && { networkHeader: config.networkHeader }),
    ...(config.addressHeader !== undefined && { addressHeader: config.addressHeader }),
    ...(config.maxBufferedBytes !== undefined && { maxBufferedBytes: config.maxBufferedBytes }),
  })
  const send = (message: FromShard) => process.send?.(message)
  const waiting = new Map<number, () => void>()
  process.on('message', (message: ToShard, handle?: unknown) => {
    if (message.type === 'upgrade' && handle !== undefined) {
      const request = { method: message.method, url: message.url, headers: message.headers } as IncomingMessage
      const socket = handle as Socket
      // Until ws takes the socket over, an error must not go unhandled (that would end the process).
      socket.on('error', destroyOnError)
      // The TCP socket's end, whatever ends it (a close, a refusal, a reset before the handshake):
      // only then may the primary count the address's slot free. Loopback is exempt by default,
      // so the benchmark's sockets carry no listener.
      const address = message.address
      if (address !== undefined) socket.once('close', () => send({ type: 'gone', address }))
      waiting.set(message.id, () => {
        socket.off('error', destroyOnError)
        adapter.handleUpgrade(request, socket, Buffer.from(message.head, 'base64'), message.addressFull === true)
      })
      send({ type: 'taken', id: message.id })
    } else if (message.type === 'go') {
      waiting.get(message.id)?.()
      waiting.delete(message.id)
    } else if (message.type === 'stats') {
      send({ type: 'stats', id: message.id, stats: core.stats(), counters: adapter.counters() })
    } else if (message.type === 'memory') {
      ;(globalThis as { gc?: () => void }).gc?.()
      send({ type: 'memory', id: message.id, pid: process.pid, usage: process.memoryUsage() })
    } else if (message.type === 'close') {
      adapter.close()
      setTimeout(() => process.exit(0), 1100).unref()
      process.disconnect?.()
    }
  })
  // The primary going away (even killed) takes its shards with it.
  process.on('disconnect', () => {
    adapter.close()
    setTimeout(() => process.exit(0), 1100).unref()
  })
  send({ type: 'ready' })
}

main()
