// A load generator process: opens sockets from one source address (one process holds at most
// ~19,900 sockets, one address ~28,000 ports), joins each to its swarm, and on command loops
// announce -> reply on every socket, measuring each round trip.

import { WebSocket } from 'ws'
import { createHistogram, record, toSparse } from './histogram.js'
import { SWARM_SIZE, announce, swarmId } from './wire.js'

export type LoadCommand =
  | { cmd: 'connect'; url: string; first: number; count: number; localAddress: string; join: boolean; swarmPath: boolean }
  | { cmd: 'loop'; offers: number; warmupMs: number; durationMs: number; echo: boolean }
  | { cmd: 'close' }

export type LoadReply =
  | { connected: number; failed: number; reasons?: Record<string, number>; ms: number }
  | { announces: number; offers: number; failures: number; seconds: number; histogram: Array<[number, number]> }

interface Peer {
  ws: WebSocket
  index: number
  sentAt: number
  message: string
}

const peers: Peer[] = []
const reply = (message: LoadReply) => process.send?.(message)

/** Replies carry "interval"; relayed offers do not. Checked on bytes, without parsing. */
const INTERVAL = Buffer.from('"interval"')
const FAILURE = Buffer.from('"failure reason"')

async function connect(command: Extract<LoadCommand, { cmd: 'connect' }>): Promise<void> {
  const started = performance.now()
  let connected = 0
  let failed = 0
  const reasons: Record<string, number> = {}
  let next = command.first
  const end = command.first + command.count
  async function worker(): Promise<void> {
    while (next < end) {
      const index = next++
      const swarm = Math.floor(index / SWARM_SIZE)
      const url = command.swarmPath ? `${command.url.replace(/^http/, 'ws')}/swarm/${swarmId(swarm).hex}` : `${command.url.replace(/^http/, 'ws')}/announce`
      const ws = new WebSocket(url, { localAddress: command.localAddress, perMessageDeflate: false })
      // A handshake or join that never completes counts as failed rather than stalling the run.
      let stage = 'handshake'
      const timer = setTimeout(() => ws.emit('error', new Error(`timed out in ${stage}`)), 30_000)
      try {
        await new Promise<void>((resolve, reject) => {
          ws.once('open', () => resolve())
          ws.once('error', reject)
        })
        if (command.join) {
          stage = 'join'
          ws.send(announce(index, swarm, { event: 'started' }))
          await new Promise<void>((resolve, reject) => {
            ws.once('message', () => resolve())
            ws.once('error', reject)
          })
        }
        ws.on('error', () => {})
        peers.push({ ws, index, sentAt: 0, message: '' })
        connected++
      } catch (error) {
        failed++
        reasons[String((error as Error).message).slice(0, 80)] = (reasons[String((error as Error).message).slice(0, 80)] ?? 0) + 1
        ws.terminate()
      } finally {
        clearTimeout(timer)
      }
    }
  }
  // Enough handshakes in flight to keep the server busy, few enough not to time out.
  await Promise.all(Array.from({ length: 64 }, worker))
  reply({ connected, failed, reasons, ms: performance.now() - started })
}

async function loop(command: Extract<LoadCommand, { cmd: 'loop' }>): Promise<void> {
  const histogram = createHistogram()
  let measuring = false
  let running = true
  let announces = 0
  let offers = 0
  let failures = 0
  let outstanding = 0
  for (const peer of peers) {
    peer.message = command.echo ? announce(peer.index, Math.floor(peer.index / SWARM_SIZE), {}) : announce(peer.index, Math.floor(peer.index / SWARM_SIZE), { offers: command.offers })
    peer.ws.removeAllListeners('message')
    peer.ws.on('message', (data: Buffer) => {
      if (!command.echo && data.indexOf(INTERVAL) < 0) {
        if (data.indexOf(FAILURE) >= 0) failures++
        else if (measuring) offers++
        return
      }
      outstanding--
      if (measuring) {
        announces++
        record(histogram, performance.now() - peer.sentAt)
      }
      if (running) send(peer)
    })
  }
  function send(peer: Peer): void {
    outstanding++
    peer.sentAt = performance.now()
    peer.ws.send(peer.message)
  }
  for (const peer of peers) send(peer)
  await new Promise((r) => setTimeout(r, command.warmupMs))
  measuring = true
  const started = performance.now()
  await new Promise((r) => setTimeout(r, command.durationMs))
  measuring = false
  const seconds = (performance.now() - started) / 1000
  running = false
  for (let i = 0; i < 100 && outstanding > 0; i++) await new Promise((r) => setTimeout(r, 20))
  reply({ announces, offers, failures, seconds, histogram: toSparse(histogram) })
}

process.on('message', (command: LoadCommand) => {
  if (command.cmd === 'connect') void connect(command)
  else if (command.cmd === 'loop') void loop(command)
  else if (command.cmd === 'close') {
    for (const peer of peers) peer.ws.terminate()
    peers.length = 0
    reply({ connected: 0, failed: 0, ms: 0 })
  }
})
process.on('disconnect', () => process.exit(0))
