// One server under test, in its own process so that its memory is its own: Chorus's tracker (one
// process or sharded), bittorrent-tracker's server (ws only), or a bare `ws` echo server.
// Prints {"ready":true,"url":...}; answers {cmd:"memory"} over IPC with each process's usage after a GC.

import type { AddressInfo } from 'node:net'
import Server from 'bittorrent-tracker/server'
import type { WebSocket } from 'ws'
import { WebSocketServer } from 'ws'
import { announce, swarmId } from './wire.js'
import { createShardedTracker } from '../../tracker/index.js'
import { createTrackerServer } from '../../tracker/index.js'

export type ServerKind = 'chorus' | 'chorus-sharded' | 'bittorrent-tracker' | 'ws-echo' | 'ws-relay'

/** A load generator loops far faster than a listener (who announces every 2 minutes): lift the per-socket limits. */
// The load generator is one client sending far more than any listener would: the per-socket abuse limits are lifted.
const BENCH_LIMITS = { maxAnnouncesPerSecond: 1_000_000, maxConnections: 19_900, maxOffersPerSecond: 1_000_000 }

type Memory = Array<{ pid: number; rss: number; heapUsed: number }>

async function start(kind: ServerKind, shards: number): Promise<{ url: string; memory(): Promise<Memory> }> {
  const own = async (): Promise<Memory> => {
    ;(globalThis as { gc?: () => void }).gc?.()
    const { rss, heapUsed } = process.memoryUsage()
    return [{ pid: process.pid, rss, heapUsed }]
  }
  if (kind === 'chorus') {
    const server = createTrackerServer({ ...BENCH_LIMITS, port: 0 })
    const { url } = await server.listen()
    return { url, memory: own }
  }
  if (kind === 'chorus-sharded') {
    const tracker = createShardedTracker({ ...BENCH_LIMITS, shards, port: 0, execArgv: ['--expose-gc', '--max-semi-space-size=2'] })
    const { url } = await tracker.listen()
    return {
      url,
      memory: async () => [...(await own()), ...(await tracker.memory()).map(({ pid, usage }) => ({ pid, rss: usage.rss, heapUsed: usage.heapUsed }))],
    }
  }
  if (kind === 'bittorrent-tracker') {
    const server = new Server({ http: false, udp: false, ws: true, stats: false })
    server.on('warning', () => {})
    server.on('error', () => {})
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const { port } = server.http!.address() as AddressInfo
    return { url: `http://127.0.0.1:${port}`, memory: own }
  }
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false })
  if (kind === 'ws-relay') {
    // The floor of relaying: per announce, the same frames a tracker sends (a reply, and with
    // offers one ~1 KB frame to each of 5 other sockets), prepared in advance: no parsing, no
    // choosing, no serializing. What is left is ws and the kernel.
    const reply = JSON.stringify({ action: 'announce', info_hash: swarmId(0).binary, interval: 120, complete: 20, incomplete: 0 })
    const offer = JSON.stringify({
      action: 'announce',
      info_hash: swarmId(0).binary,
      peer_id: '-BN0001-000000000000',
      ...(JSON.parse(announce(0, 0, { offers: 1 })) as { offers: [Record<string, unknown>] }).offers[0],
    })
    const sockets: WebSocket[] = []
    wss.on('connection', (ws) => {
      sockets.push(ws)
      ws.on('message', (data: Buffer) => {
        ws.send(reply)
        if (data.length < 1000) return
        for (let k = 0; k < 5; k++) sockets[Math.floor(Math.random() * sockets.length)]?.send(offer)
      })
    })
  } else {
    wss.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })))
  }
  await new Promise<void>((resolve) => wss.once('listening', resolve))
  const { port } = wss.address() as AddressInfo
  return { url: `http://127.0.0.1:${port}`, memory: own }
}

const [kind, shards] = [process.argv[2] as ServerKind, Number(process.argv[3] ?? '1')]
const server = await start(kind, shards)
process.on('message', (message: { cmd: string }) => {
  if (message.cmd === 'memory') void server.memory().then((memory) => process.send?.({ memory }))
})
process.on('disconnect', () => process.exit(0))
// A clean exit (not death by signal) lets --cpu-prof write its profile.
process.on('SIGTERM', () => process.exit(0))
process.stdout.write(`${JSON.stringify({ ready: true, url: server.url, pid: process.pid })}\n`)
