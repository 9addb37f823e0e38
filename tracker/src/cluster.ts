// `chorus tracker --shards N`: one process holds at most about 19,900 sockets here (the open-file
// limit is 20,000), so past that the tracker runs N shard processes. Every peer of a swarm must
// meet in one process, so shards split by info_hash: clients connect to /swarm/<info_hash hex>,
// the primary reads the upgrade request, picks the shard (shardOf) and passes the socket itself to
// that process, which keeps it. The primary holds no tracker socket for longer than a handshake.

import type { ChildProcess } from 'node:child_process'
import { fork } from 'node:child_process'
import type { AddressInfo, Socket } from 'node:net'
import { mergeStats, renderMetrics } from './core/metrics.js'
import { addressKey } from './core/address.js'
import { resolveTrackerOptions } from './core/options.js'
import { shardOf } from './core/shard.js'
import type { TrackerCoreOptions, TrackerStats } from './core/tracker-core.js'
import { createHttpFront, destroyOnError, rejectUpgrade } from './http-front.js'
import { OPERATOR_TOKEN_ENV, checkOperatorToken } from './operator.js'
import type { ShardScript } from './shard-bundle.js'
import { prepareShardScript } from './shard-bundle.js'
import type { FromShard, ShardWorkerConfig, ToShard } from './shard-worker.js'

export interface ShardedTrackerOptions extends Omit<TrackerCoreOptions, 'now' | 'random' | 'shard'> {
  shards: number
  host?: string
  port?: number
  authKey?: string
  networkHeader?: string
  addressHeader?: string
  maxBufferedBytes?: number
  /** When set, /metrics (and the figures of /healthz) need `Authorization: Bearer <it>`. */
  operatorToken?: string
  /**
   * Node flags for the shard processes. Default: a 2 MB young generation (V8's default grows to
   * 16 MB x 3 per process): this mode exists to hold many sockets, and the tracker's garbage is
   * small and short-lived.
   */
  execArgv?: string[]
}

export interface ShardedTracker {
  listen(): Promise<{ url: string; port: number }>
  /** Process ids of the shards (benchmarks read their memory). */
  pids(): number[]
  stats(): Promise<TrackerStats>
  /** Memory of each shard process (after a full GC when they run with --expose-gc). */
  memory(): Promise<Array<{ pid: number; usage: NodeJS.MemoryUsage }>>
  close(): Promise<void>
}

export function createShardedTracker(options: ShardedTrackerOptions): ShardedTracker {
  const { shards, host = '127.0.0.1', port = 0, authKey, networkHeader, addressHeader, maxBufferedBytes, operatorToken, execArgv = ['--max-semi-space-size=2'], ...coreOptions } = options
  checkOperatorToken(operatorToken, 'operatorToken')
  if (!Number.isSafeInteger(shards) || shards < 1) throw new TypeError('shards must be a positive integer')
  // Validate here, once, rather than in N children.
  const limits = resolveTrackerOptions({ ...coreOptions, auth: authKey !== undefined })
  // Connections per client address over all shards: every connection comes through this process,
  // so it counts them here (per shard, so that a shard that dies takes its count with it); the
  // shard reports each socket's end. Each shard's core also counts its own, which is never more.
  const perAddress: Array<Map<string, number>> = []
  const workers: ChildProcess[] = []
  const pending = new Map<number, (reply: FromShard) => void>()
  let nextRequest = 1
  let closing = false
  let script: ShardScript | undefined

  function spawnShard(index: number): Promise<void> {
    const config: ShardWorkerConfig = {
      index,
      count: shards,
      core: { ...coreOptions, auth: authKey !== undefined },
      ...(networkHeader !== undefined && { networkHeader }),
      ...(addressHeader !== undefined && { addressHeader }),
      ...(maxBufferedBytes !== undefined && { maxBufferedBytes }),
    }
    const { file, execArgv: loader } = script as ShardScript
    const child = fork(file, [JSON.stringify(config)], {
      execArgv: [...loader, ...execArgv],
      // Shards serve no HTTP: the operator token stays in this process.
      env: { ...withoutOperatorToken(process.env), ...(authKey !== undefined && { CHORUS_ORIGIN_PUBLIC_KEY: authKey }) },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    })
    workers[index] = child
    perAddress[index] = new Map()
    // A send to a shard that has just died fails (EPIPE) before 'disconnect' is seen, and Node
    // reports that as an 'error' event when the send has no callback: unheard, it would end the
    // primary. The 'exit' below restarts the shard.
    child.on('error', (error) => process.stderr.write(`tracker shard ${index}: ${error.message}\n`))
    child.on('message', (message: FromShard) => {
      if (message.type === 'gone') {
        release(index, message.address)
      } else if (message.type === 'taken') {
        // Node closes our copy of a passed socket when the child acknowledges it, and the child
        // acknowledges before it tells us 'taken': from here no byte can land in this process.
        if (child.connected) child.send({ type: 'go', id: message.id } satisfies ToShard)
      } else if (message.type !== 'ready') {
        pending.get(message.id)?.(message)
        pending.delete(message.id)
      }
    })
    child.on('exit', (code, signal) => {
      if (closing) return
      // Its peers are gone (their sockets died with it) and will reconnect; the shard comes back empty.
      process.stderr.write(`tracker shard ${index} exited (${signal ?? code}); restarting it\n`)
      void spawnShard(index)
    })
    return new Promise((resolve, reject) => {
      child.once('message', (message: FromShard) => (message.type === 'ready' ? resolve() : reject(new Error('shard did not start'))))
      child.once('error', reject)
    })
  }

  /** Asks every shard; a shard that does not answer within 2 s is left out. */
  function ask<T extends FromShard['type']>(type: T & ToShard['type']): Promise<Array<Extract<FromShard, { type: T }>>> {
    return Promise.all(
      workers.map(
        (child) =>
          new Promise<Extract<FromShard, { type: T }> | undefined>((resolve) => {
            if (!child.connected) return resolve(undefined)
            const id = nextRequest++
            const timer = setTimeout(() => {
              pending.delete(id)
              resolve(undefined)
            }, 2000)
            pending.set(id, (reply) => {
              clearTimeout(timer)
              resolve(reply as Extract<FromShard, { type: T }>)
            })
            child.send({ type, id } as ToShard, (error) => {
              if (error && pending.delete(id)) {
                clearTimeout(timer)
                resolve(undefined)
              }
            })
          }),
      ),
    ).then((replies) => replies.flatMap((r) => (r === undefined ? [] : [r])))
  }

  function release(index: number, address: string): void {
    const counts = perAddress[index]
    const n = (counts?.get(address) ?? 0) - 1
    if (n > 0) counts?.set(address, n)
    else counts?.delete(address)
  }

  function connectionsFrom(address: string): number {
    let total = 0
    for (const counts of perAddress) total += counts?.get(address) ?? 0
    return total
  }

  async function stats(): Promise<TrackerStats> {
    return mergeStats((await ask('stats')).map((r) => r.stats))
  }

  /** The core's stats and the adapters' own counters (slow consumers, oversized frames), summed over shards. */
  async function metrics(): Promise<string> {
    const replies = await ask('stats')
    const counters: Record<string, number> = {}
    for (const reply of replies) for (const [name, n] of Object.entries(reply.counters)) counters[name] = (counters[name] ?? 0) + n
    return renderMetrics(mergeStats(replies.map((r) => r.stats)), { ...counters, shards })
  }

  const http = createHttpFront({
    ...(operatorToken !== undefined && { operatorToken }),
    health: async () => {
      const { connections, swarms, peers } = await stats()
      return { connections, swarms, peers, shards }
    },
    metrics,
    upgrade(request, socket, head, route) {
      if (route.kind === 'any' && shards > 1) {
        return rejectUpgrade(socket, 400, 'bad_request', `this tracker has ${shards} shards: connect to /swarm/<info_hash hex>`)
      }
      const index = route.kind === 'swarm' ? shardOf(route.infoHash, shards) : 0
      const child = workers[index]
      if (child === undefined || !child.connected) return rejectUpgrade(socket, 503, 'unavailable', `shard ${index} is restarting`)
      const named = addressHeader === undefined ? undefined : request.headers[addressHeader.toLowerCase()]
      const address = addressKey(typeof named === 'string' && named.length > 0 ? named : (socket as Socket).remoteAddress, limits.exemptLoopback)
      // Full: the shard still takes the socket, to refuse it the way a single process does (a
      // failure reason, then close 4503), counted in its /metrics; it is not counted here.
      const full = address !== undefined && connectionsFrom(address) >= limits.maxConnectionsPerAddress
      if (address !== undefined && !full) {
        const counts = perAddress[index] as Map<string, number>
        counts.set(address, (counts.get(address) ?? 0) + 1)
      }
      const message: ToShard = {
        type: 'upgrade',
        id: nextRequest++,
        method: request.method ?? 'GET',
        url: request.url ?? '/',
        headers: request.headers,
        head: head.toString('base64'),
        ...(address !== undefined && !full && { address }),
        ...(full && { addressFull: true }),
      }
      // Until Node closes our copy (on the child's acknowledgement) this process still reads the
      // socket and would swallow the client's first frame; so the shard answers the upgrade (and
      // the client starts talking) only after our 'go', which follows that close.
      // Not as a socket of our HTTP server: Node would then have the shard watch every socket
      // with a listener of its own (about 200 bytes each) to report back when all have closed.
      ;(socket as Socket & { server: unknown }).server = null
      // Node's HTTP server took its error listener off when it emitted 'upgrade', and nobody
      // else listens here until the shard has the socket: a client that resets the connection
      // meanwhile (ECONNRESET) would otherwise end the primary and every shard with it.
      socket.on('error', destroyOnError)
      child.send(message, socket as Socket, (error) => {
        if (!error) return
        socket.destroy()
        if (address !== undefined && !full) release(index, address)
      })
    },
  })

  return {
    async listen() {
      script = await prepareShardScript()
      await Promise.all(Array.from({ length: shards }, (_, i) => spawnShard(i)))
      return new Promise((resolve, reject) => {
        http.once('error', reject)
        http.listen(port, host, () => {
          http.off('error', reject)
          const address = http.address() as AddressInfo
          resolve({ url: `http://${address.address}:${address.port}`, port: address.port })
        })
      })
    },
    pids: () => workers.flatMap((w) => (w.pid === undefined ? [] : [w.pid])),
    stats,
    memory: async () => (await ask('memory')).map((r) => ({ pid: r.pid, usage: r.usage })),
    async close() {
      closing = true
      // Stop listening. Not waiting for Node's count of open connections: the sockets handed to
      // shards are not counted down here (see upgrade), and the shards close them.
      http.close()
      http.closeAllConnections()
      await Promise.all(
        workers.map(
          (child) =>
            new Promise<void>((resolve) => {
              if (child.exitCode !== null || child.signalCode !== null) return resolve()
              child.once('exit', () => resolve())
              if (child.connected) child.send({ type: 'close' } satisfies ToShard)
              setTimeout(() => child.kill('SIGKILL'), 3000).unref()
            }),
        ),
      )
      await script?.dispose()
    },
  }
}

function withoutOperatorToken(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const { [OPERATOR_TOKEN_ENV]: _, ...rest } = env
  return rest
}
