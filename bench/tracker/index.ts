// `npm run bench -- tracker`: Chorus's tracker against bittorrent-tracker's server (ws only) and a
// bare `ws` echo server (the floor), under the same load, in one run:
// - memory per connected peer at 10,000 and 50,000 peers (several processes where one process's
//   20,000 open files bind), and Chorus alone at 100,000;
// - announces per second without and with 5 offers at 200 and 2,000 connections, server on CPU0 and
//   load on CPU1, with p50/p99 from announce to reply.

import type { ChildProcess } from 'node:child_process'
import { fork } from 'node:child_process'
import { startProcess } from '../../support/process.js'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { machineInfo } from '../src/machine.js'
import { pin } from '../src/process.js'
import { fmt, mdTable, median, writeResults } from '../src/report.js'
import { createHistogram, fromSparse, merge, quantile } from './histogram.js'
import type { LoadCommand, LoadReply } from './load-process.js'
import type { ServerKind } from './server-process.js'

const HERE = new URL('./', import.meta.url)
const TSX = import.meta.resolve('tsx')
/** Sockets per process, server or load: under the 20,000 open files of this machine, with room for the rest. */
const PER_PROCESS = 16_000

interface Options {
  memoryLevels: number[]
  bigLevel: number | null
  connections: number[]
  warmupMs: number
  durationMs: number
  rounds: number
}

function parseOptions(argv: string[]): Options {
  const quick = argv.includes('--quick')
  const value = (name: string) => {
    const i = argv.indexOf(name)
    return i >= 0 ? argv[i + 1] : undefined
  }
  const levels = (value('--peers')?.split(',').map(Number) ?? (quick ? [10_000] : [10_000, 50_000])).filter((n) => n > 0)
  const big = value('--big')
  return {
    memoryLevels: levels,
    bigLevel: big === '0' ? null : big !== undefined ? Number(big) : quick ? null : 100_000,
    connections: (value('--connections')?.split(',').map(Number) ?? [200, 2000]).filter((n) => n > 0),
    warmupMs: 1000,
    durationMs: quick ? 2000 : 3000,
    rounds: quick ? 1 : 3,
  }
}

/** CPU time (user + system, seconds) a process has used so far, from /proc. */
function cpuSeconds(pid: number | undefined): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    // utime and stime are fields 14 and 15 of stat (11 and 12 after the command name), in ticks of 1/100 s.
    return (Number(fields[11]) + Number(fields[12])) / 100
  } catch {
    return Number.NaN
  }
}

interface ServerHandle {
  url: string
  child: ChildProcess
  memory(): Promise<Array<{ pid: number; rss: number; heapUsed: number }>>
  stop(): Promise<void>
}

async function startServer(kind: ServerKind, shards = 1): Promise<ServerHandle> {
  const server = await startProcess({
    name: `${kind} server`,
    args: ['--import', TSX, '--expose-gc', fileURLToPath(new URL('server-process.ts', HERE)), kind, String(shards)],
    ipc: true,
    onOutput: (d, stream) => void (stream === 'stderr' && process.stderr.write(d)),
    ready: 'json-line',
  })
  const child = server.child
  return {
    url: server.readyValue.url,
    child,
    memory: () =>
      new Promise((done) => {
        child.once('message', (m: { memory: Array<{ pid: number; rss: number; heapUsed: number }> }) => done(m.memory))
        child.send({ cmd: 'memory' })
      }),
    stop: async () => void (await server.stop()),
  }
}

interface LoadHandle {
  child: ChildProcess
  send(command: LoadCommand): Promise<LoadReply>
  stop(): void
}

function startLoad(): LoadHandle {
  const child = fork(fileURLToPath(new URL('load-process.ts', HERE)), [], { execArgv: ['--import', TSX, '--max-old-space-size=4096'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  return {
    child,
    send: (command) =>
      new Promise((resolve) => {
        child.once('message', (reply: LoadReply) => resolve(reply))
        child.send(command)
      }),
    stop: () => child.kill('SIGKILL'),
  }
}

/**
 * Source addresses: each measurement takes fresh ones, since the ports of the last one linger in
 * TIME_WAIT, and each address has only 28,000 ephemeral ports.
 */
let nextAddress = 0
function freshAddress(): string {
  nextAddress++
  return `127.0.${1 + (nextAddress >> 8)}.${nextAddress & 255 || 1}`
}

const sum = (memory: Array<{ rss: number; heapUsed: number }>) => memory.reduce((a, m) => ({ rss: a.rss + m.rss, heapUsed: a.heapUsed + m.heapUsed }), { rss: 0, heapUsed: 0 })
const log = (line: string) => process.stderr.write(`${line}\n`)

interface MemoryFigure {
  server: ServerKind
  peers: number
  processes: number
  rssPerPeerKB: number
  heapPerPeerKB: number
  totalRssMB: number
  connectSeconds: number
  failed: number
}

/** Connects `peers` sockets (joined to swarms of 20, except for the echo server) and measures the server side. */
async function measureMemory(kind: 'chorus' | 'bittorrent-tracker' | 'ws-echo', peers: number): Promise<MemoryFigure> {
  const processes = Math.ceil(peers / PER_PROCESS)
  // Chorus past one process runs its own sharded mode; the others run as independent processes,
  // which is all that memory needs (their swarms would not meet across processes). Shards split
  // by info_hash, a little unevenly: each gets up to 18,000 on average, under the 19,900 cap.
  const sharded = kind === 'chorus' && processes > 1
  const shards = Math.ceil(peers / 18_000)
  const servers = sharded ? [await startServer('chorus-sharded', shards)] : await Promise.all(Array.from({ length: processes }, () => startServer(kind)))
  const loads = Array.from({ length: processes }, () => startLoad())
  try {
    const before = sum((await Promise.all(servers.map((s) => s.memory()))).flat())
    const addresses = loads.map(() => freshAddress())
    const share = Math.ceil(peers / processes)
    const started = performance.now()
    const replies = (await Promise.all(
      loads.map((load, g) =>
        load.send({
          cmd: 'connect',
          url: (servers[sharded ? 0 : g] as ServerHandle).url,
          first: g * share,
          count: Math.min(share, peers - g * share),
          localAddress: addresses[g] as string,
          // The echo server gets the same first message and echoes it: the floor is a connection
          // that has carried one message each way, as every tracker peer has.
          join: true,
          swarmPath: sharded,
        }),
      ),
    )) as Array<Extract<LoadReply, { connected: number }>>
    const connectSeconds = (performance.now() - started) / 1000
    const connected = replies.reduce((n, r) => n + r.connected, 0)
    const failed = replies.reduce((n, r) => n + r.failed, 0)
    await new Promise((r) => setTimeout(r, 1000))
    const after = sum((await Promise.all(servers.map((s) => s.memory()))).flat())
    const figure: MemoryFigure = {
      server: kind,
      peers: connected,
      processes: sharded ? shards + 1 : processes,
      rssPerPeerKB: (after.rss - before.rss) / connected / 1024,
      heapPerPeerKB: (after.heapUsed - before.heapUsed) / connected / 1024,
      totalRssMB: after.rss / 2 ** 20,
      connectSeconds,
      failed,
    }
    log(
      `memory ${kind} ${connected} peers (${figure.processes} processes): ${fmt(figure.rssPerPeerKB)} KB RSS, ${fmt(figure.heapPerPeerKB)} KB heap per peer; ${fmt(figure.totalRssMB, 0)} MB in all; connected in ${fmt(connectSeconds, 1)} s${failed ? `, ${failed} failed` : ''}`,
    )
    return figure
  } finally {
    for (const load of loads) load.stop()
    await Promise.all(servers.map((s) => s.stop()))
  }
}

interface ThroughputFigure {
  server: ServerKind
  connections: number
  offers: number
  announcesPerSecond: number
  offersRelayedPerSecond: number
  /** announces/s of each round */
  rounds: number[]
  /** Share of one core the server used (1 = saturated; below, the load or the machine held it back). */
  serverBusy: number
  /** Announces per second of server CPU: the cost per announce, which other load on the machine does not skew. */
  perCpuSecond: number
  p50Ms: number
  p99Ms: number
  failures: number
}

/**
 * One (connections, offers) case for several servers at once: each server on CPU0 with its own
 * load process on CPU1, all connected up front; then rounds that take turns (server A, B, C, A,
 * B, C...), so that a noisy neighbour on this shared machine hits every server alike. Figures are
 * the median round; latencies pool every round.
 */
async function measureThroughput(kinds: Array<'chorus' | 'bittorrent-tracker' | 'ws-echo' | 'ws-relay'>, connections: number, offers: number, options: Options): Promise<ThroughputFigure[]> {
  const setups: Array<{ kind: (typeof kinds)[number]; server: ServerHandle; load: LoadHandle }> = []
  try {
    for (const kind of kinds) {
      const server = await startServer(kind)
      pin(server.child, 0)
      const load = startLoad()
      pin(load.child, 1)
      setups.push({ kind, server, load })
      await load.send({ cmd: 'connect', url: server.url, first: 0, count: connections, localAddress: freshAddress(), join: true, swarmPath: false })
    }
    const rounds = new Map<string, Array<Extract<LoadReply, { announces: number }> & { busy: number }>>()
    for (let round = 0; round < options.rounds; round++) {
      for (const { kind, load, server } of setups) {
        const cpuBefore = cpuSeconds(server.child.pid)
        const started = performance.now()
        const result = (await load.send({ cmd: 'loop', offers, warmupMs: options.warmupMs, durationMs: options.durationMs, echo: kind === 'ws-echo' })) as Extract<LoadReply, { announces: number }>
        const busy = (cpuSeconds(server.child.pid) - cpuBefore) / ((performance.now() - started) / 1000)
        rounds.set(kind, [...(rounds.get(kind) ?? []), { ...result, busy }])
      }
    }
    return setups.map(({ kind }) => {
      const results = rounds.get(kind) ?? []
      const histogram = createHistogram()
      for (const r of results) merge(histogram, fromSparse(r.histogram))
      const figure: ThroughputFigure = {
        server: kind,
        connections,
        offers,
        announcesPerSecond: median(results.map((r) => r.announces / r.seconds)),
        offersRelayedPerSecond: median(results.map((r) => r.offers / r.seconds)),
        rounds: results.map((r) => Math.round(r.announces / r.seconds)),
        serverBusy: median(results.map((r) => r.busy)),
        perCpuSecond: median(results.map((r) => r.announces / r.seconds / r.busy)),
        p50Ms: quantile(histogram, 0.5),
        p99Ms: quantile(histogram, 0.99),
        failures: results.reduce((n, r) => n + r.failures, 0),
      }
      log(
        `throughput ${kind} ${connections} conns, ${offers} offers: ${fmt(figure.announcesPerSecond, 0)} announces/s (rounds ${figure.rounds.join(', ')}), server busy ${fmt(figure.serverBusy * 100, 0)} %, ${fmt(figure.perCpuSecond, 0)} per CPU-second, ${fmt(figure.offersRelayedPerSecond, 0)} offers relayed/s, p50 ${fmt(figure.p50Ms)} ms, p99 ${fmt(figure.p99Ms)} ms${figure.failures ? `, ${figure.failures} failures` : ''}`,
      )
      return figure
    })
  } finally {
    for (const { server, load } of setups) {
      load.stop()
      await server.stop()
    }
  }
}

function report(memory: MemoryFigure[], big: MemoryFigure | null, throughput: ThroughputFigure[], command: string): string {
  const mem = (kind: string, peers: number) => memory.find((m) => m.server === kind && Math.abs(m.peers - peers) < peers * 0.02)
  const memoryRows = [...new Set(memory.map((m) => Math.round(m.peers / 1000) * 1000))].map((level) => {
    const chorus = mem('chorus', level)
    const bt = mem('bittorrent-tracker', level)
    const ws = mem('ws-echo', level)
    return [
      level.toLocaleString('en-US'),
      chorus ? `${fmt(chorus.rssPerPeerKB)} (${fmt(chorus.heapPerPeerKB)})` : '-',
      bt ? `${fmt(bt.rssPerPeerKB)} (${fmt(bt.heapPerPeerKB)})` : '-',
      ws ? `${fmt(ws.rssPerPeerKB)} (${fmt(ws.heapPerPeerKB)})` : '-',
      chorus && ws ? `${fmt(chorus.rssPerPeerKB / ws.rssPerPeerKB)}x` : '-',
      chorus && bt ? `${fmt(chorus.rssPerPeerKB / bt.rssPerPeerKB)}x` : '-',
      chorus ? `${chorus.processes}` : '-',
    ]
  })
  const tp = (kind: string, connections: number, offers: number) => throughput.find((f) => f.server === kind && f.connections === connections && f.offers === offers)
  const tpRows: Array<Array<string | number>> = []
  for (const connections of [...new Set(throughput.map((f) => f.connections))]) {
    for (const offers of [0, 5]) {
      const chorus = tp('chorus', connections, offers)
      const bt = tp('bittorrent-tracker', connections, offers)
      const echo = tp('ws-echo', connections, 0)
      const relay = tp('ws-relay', connections, 5)
      if (!chorus || !bt) continue
      tpRows.push([
        connections,
        offers,
        `${fmt(chorus.announcesPerSecond, 0)} (${fmt(chorus.p50Ms)} / ${fmt(chorus.p99Ms)} ms)`,
        `${fmt(bt.announcesPerSecond, 0)} (${fmt(bt.p50Ms)} / ${fmt(bt.p99Ms)} ms)`,
        `${fmt(chorus.announcesPerSecond / bt.announcesPerSecond)}x`,
        `${fmt(chorus.perCpuSecond, 0)} / ${fmt(bt.perCpuSecond, 0)} = ${fmt(chorus.perCpuSecond / bt.perCpuSecond)}x`,
        `${fmt(chorus.serverBusy * 100, 0)} / ${fmt(bt.serverBusy * 100, 0)} %`,
        offers === 0 && echo
          ? `echo: ${fmt(echo.announcesPerSecond, 0)}; ${fmt(echo.perCpuSecond, 0)}/CPU-s = ${fmt(echo.perCpuSecond / bt.perCpuSecond)}x bt`
          : offers > 0 && relay
            ? `relay: ${fmt(relay.announcesPerSecond, 0)}; ${fmt(relay.perCpuSecond, 0)}/CPU-s = ${fmt(relay.perCpuSecond / bt.perCpuSecond)}x bt`
            : '-',
        offers > 0 ? `${fmt(chorus.offersRelayedPerSecond, 0)} / ${fmt(bt.offersRelayedPerSecond, 0)}` : '-',
      ])
    }
  }
  const lines = [
    '# Tracker benchmark',
    '',
    `Command: \`${command}\``,
    '',
    '## Memory per connected peer (KB RSS, V8 heap in parentheses)',
    '',
    'Each peer is one WebSocket that announced once into a swarm of 20 and got its reply; on the bare ws',
    'server (the floor) each connection carried the same message, echoed.',
    'Past 16,000 peers every server runs in several processes (the open-file limit is 20,000 per process):',
    'Chorus in its sharded mode (`--shards`, one primary + shards), the others as independent processes.',
    '',
    mdTable(['peers', 'chorus', 'bittorrent-tracker', 'bare ws', 'chorus / ws', 'chorus / bt', 'chorus processes'], memoryRows),
  ]
  if (big) {
    lines.push(
      '',
      `Chorus with ${big.peers.toLocaleString('en-US')} peers: ${fmt(big.totalRssMB, 0)} MB RSS in all (${big.processes} processes: primary + ${big.processes - 1} shards), ${fmt(big.rssPerPeerKB)} KB per peer.`,
    )
  }
  lines.push(
    '',
    '## Announces per second (server pinned to CPU0, load to CPU1), p50 / p99 from announce to reply',
    '',
    'Every connection loops: announce, wait for the reply, announce again. With offers, each announce carries 5 offers of about 1 KB, relayed to 5 peers of its swarm.',
    'The servers take turns, round after round (median round shown; latencies pool all rounds), so that load from elsewhere on the machine hits them alike.',
    'The floors: without offers, a bare `ws` server echoing each announce; with offers, a bare `ws` server sending the same frames a tracker sends (a reply, and 5 prepared ~1 KB frames to 5 other sockets) without parsing or choosing anything.',
    '"Per server CPU-second" divides by the CPU the server process used: the cost of an announce, which a slow load generator or a busy neighbour does not change. "Server busy" below 100 % means something else held the rate back.',
    '',
    mdTable(
      [
        'conns',
        'offers',
        'chorus announces/s (p50 / p99)',
        'bittorrent-tracker announces/s (p50 / p99)',
        'chorus / bt',
        'per server CPU-second chorus / bt',
        'server busy chorus / bt',
        'bare ws floor',
        'offers relayed/s chorus / bt',
      ],
      tpRows,
    ),
  )
  return `${lines.join('\n')}\n`
}

export async function run(argv: string[]): Promise<void> {
  const options = parseOptions(argv)
  const command = `npm run bench -- tracker${argv.length ? ` ${argv.join(' ')}` : ''}`
  const memory: MemoryFigure[] = []
  for (const peers of options.memoryLevels) {
    for (const kind of ['ws-echo', 'bittorrent-tracker', 'chorus'] as const) memory.push(await measureMemory(kind, peers))
  }
  const big = options.bigLevel === null ? null : await measureMemory('chorus', options.bigLevel)
  const throughput: ThroughputFigure[] = []
  for (const connections of options.connections) {
    throughput.push(...(await measureThroughput(['bittorrent-tracker', 'chorus', 'ws-echo'], connections, 0, options)))
    throughput.push(...(await measureThroughput(['bittorrent-tracker', 'chorus', 'ws-relay'], connections, 5, options)))
  }
  const markdown = report(memory, big, throughput, command)
  const files = await writeResults('tracker', { machine: machineInfo(), command, memory, big, throughput }, markdown)
  process.stdout.write(markdown)
  log(`wrote ${files.join(', ')}`)
}
