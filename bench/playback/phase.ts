import { type ChildProcess, fork } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { ClientOptions } from '../../client-sdk/index.js'
import type { Catalog } from './catalog.js'
import { onInterrupt } from './cleanup.js'
import type { PeerConnectionCounters } from './counting-wrtc.js'
import { type DelayProxy, startDelayProxy } from './delay-proxy.js'
import { type WorkerCounters, type WorkerInit, type WorkerMessage, absoluteNow } from './ipc.js'
import type { PlayRecord, SessionRecord } from './listener.js'
import type { Scenario } from './scenario.js'
import { API_KEY, type EdgeStats, edgeStatsSince, startStack, warmHeads, warmKeyService } from './stack.js'

/**
 * One phase of the benchmark: fresh servers, every listener's script run against them (in
 * worker processes, a few listeners each), and what happened. The P2P phase and the plain-CDN
 * phase run the same scripts one after the other.
 */
export interface Sample {
  /** Wall ms since the phase started. */
  tMs: number
  /** Cumulative bytes: played from local caches, sent by peers, sent by the edge, sent by the origin (to the edge). */
  cache: number
  peer: number
  edge: number
  origin: number
  online: number
}

export interface PhaseResult {
  name: 'p2p' | 'cdn'
  p2p: boolean
  plays: PlayRecord[]
  sessions: SessionRecord[]
  samples: Sample[]
  edge: EdgeStats | undefined
  wallMs: number
  workers: number
  /** Most file descriptors one worker held (each RTCPeerConnection holds dozens). */
  maxFds: number
  /** Event-loop delay in the listeners' processes (the worst worker's): the instrument's own noise. */
  eventLoopMs: { p50: number; p99: number; max: number }
  /** RTCPeerConnections the SDK made, over all workers. */
  peerConnections: PeerConnectionCounters
  /** CPU the listeners' processes used, ms (user + system). */
  listenerCpuMs: number
  /** 1-minute load average at the start and the end: other work on the machine shows here. */
  loadAverage: [number, number]
}

export interface PhaseOptions {
  name: 'p2p' | 'cdn'
  p2p: boolean
  seed: number
  scenario: Scenario
  catalog: Catalog
  workerScript: string
  durationMs: number
  speed: number
  originRttMs: number
  listenersPerProcess: number
  scheduler?: ClientOptions['scheduler']
  /** 'heads': every track's head asked of the edge before the listeners come (a location in use); 'cold': an empty edge. */
  edgeStart: 'heads' | 'cold'
  log: (line: string) => void
}

const SAMPLE_MS = 1000
/** Past its deadline, a phase gets this long to wind down before its workers are killed. */
const GRACE_MS = 30_000
const WORKER = fileURLToPath(new URL('./listener-process.ts', import.meta.url))
const TSX = import.meta.resolve('tsx')

export async function runPhase(options: PhaseOptions): Promise<PhaseResult> {
  const stack = await startStack({ dataDir: options.catalog.dataDir, publicKey: options.catalog.publicKey, workerScript: options.workerScript, originRttMs: options.originRttMs })
  const proxies: DelayProxy[] = []
  const children: ChildProcess[] = []
  const cacheRoot = await mkdtemp(join(tmpdir(), `chorus-bench-${options.name}-`))
  const plays: PlayRecord[] = []
  const sessions: SessionRecord[] = []
  const samples: Sample[] = []
  let sampler: ReturnType<typeof setInterval> | undefined
  const teardown = async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL')
    for (const p of proxies) await p.close().catch(() => {})
    await rm(cacheRoot, { recursive: true, force: true })
  }
  const forget = onInterrupt(teardown)
  try {
    const trackerUrls: Array<string | undefined> = []
    for (const l of options.scenario.listeners) {
      if (!options.p2p) {
        trackerUrls.push(undefined)
        continue
      }
      // Each listener reaches the tracker over its own round trip.
      const proxy = await startDelayProxy(stack.trackerUrl, l.network.rttMs / 2)
      proxies.push(proxy)
      trackerUrls.push(`${proxy.url.replace(/^http/, 'ws')}/announce`)
    }
    const groups: number[][] = []
    for (let i = 0; i < options.scenario.listeners.length; i += options.listenersPerProcess) {
      groups.push(options.scenario.listeners.slice(i, i + options.listenersPerProcess).map((l) => l.index))
    }
    const latest: WorkerCounters[] = groups.map(() => ({ cache: 0, peer: 0, edge: 0, online: 0, fds: 0 }))
    const loops: Array<{ p50: number; p99: number; max: number }> = []
    let maxFds = 0
    const pcs: PeerConnectionCounters = { created: 0, connected: 0, closed: 0, constructMs: 0, closeMs: 0 }
    let listenerCpuMs = 0
    const loadStart = loadavg()[0]!
    const exits: Array<Promise<void>> = []
    const ready: Array<Promise<void>> = []
    for (const g of groups.keys()) {
      const child = fork(WORKER, [], { execArgv: ['--import', TSX], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] })
      children.push(child)
      ready.push(
        new Promise((resolve, reject) => {
          child.on('message', (m: WorkerMessage) => m.type === 'ready' && resolve())
          child.once('error', reject)
          child.once('exit', (code) => reject(new Error(`a listener process exited (${code}) before it was ready`)))
        }),
      )
      child.on('message', (m: WorkerMessage) => {
        if (m.type === 'play') plays.push(m.record)
        else if (m.type === 'session') sessions.push(m.record)
        else if (m.type === 'counters') latest[g] = m.counters
        else if (m.type === 'log') options.log(m.line)
        else if (m.type === 'done') {
          latest[g] = m.counters
          loops.push(m.eventLoopMs)
          maxFds = Math.max(maxFds, m.maxFds)
          for (const k of ['created', 'connected', 'closed', 'constructMs', 'closeMs'] as const) pcs[k] += m.peerConnections[k]
          listenerCpuMs += m.cpuMs
        }
      })
      exits.push(new Promise((resolve) => child.once('exit', () => resolve())))
    }
    await Promise.all(ready)
    if (options.edgeStart === 'heads')
      await warmHeads(
        stack.edgeUrl,
        options.catalog.tracks.map((t) => t.trackId),
      )
    await warmKeyService(stack.keysUrl, options.catalog.tracks[0]!.trackId)
    // The phase's own figures start here: what warming the servers cost is not counted.
    const edgeBefore = await stack.edgeStats()
    const start = absoluteNow()
    const deadline = start + options.durationMs
    for (const [g, members] of groups.entries()) {
      const init: WorkerInit = {
        type: 'init',
        p2p: options.p2p,
        catalog: options.catalog,
        edgeUrl: stack.edgeUrl,
        keysUrl: stack.keysUrl,
        apiKey: API_KEY,
        cacheRoot,
        speed: options.speed,
        seed: options.seed,
        phaseStart: start,
        deadline,
        ...(options.scheduler && { scheduler: options.scheduler }),
        listeners: members.map((i) => ({ script: options.scenario.listeners[i]!, trackerUrl: trackerUrls[i] })),
      }
      children[g]!.send(init)
    }
    const sample = () => {
      const s: Sample = { tMs: absoluteNow() - start, cache: 0, peer: 0, edge: 0, origin: stack.originBytes(), online: 0 }
      for (const c of latest) {
        s.cache += c.cache
        s.peer += c.peer
        s.edge += c.edge
        s.online += c.online
        maxFds = Math.max(maxFds, c.fds)
      }
      samples.push(s)
    }
    sample()
    sampler = setInterval(sample, SAMPLE_MS)
    options.log(`${options.name}: ${options.scenario.listeners.length} listeners in ${groups.length} processes for ${Math.round(options.durationMs / 1000)} s (P2P ${options.p2p ? 'on' : 'off'})`)
    let timer: ReturnType<typeof setTimeout> | undefined
    const bounded = await Promise.race([Promise.all(exits).then(() => true), new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), options.durationMs + GRACE_MS)))])
    clearTimeout(timer)
    if (!bounded) options.log(`${options.name}: listeners still busy ${GRACE_MS / 1000} s past the deadline; killed`)
    clearInterval(sampler)
    sample()
    const worst = (k: 'p50' | 'p99' | 'max') => Math.max(0, ...loops.map((l) => l[k]))
    const edgeAfter = await stack.edgeStats()
    return {
      name: options.name,
      p2p: options.p2p,
      plays,
      sessions,
      samples,
      edge: edgeBefore && edgeAfter ? edgeStatsSince(edgeBefore, edgeAfter) : edgeAfter,
      wallMs: absoluteNow() - start,
      workers: groups.length,
      maxFds,
      eventLoopMs: { p50: worst('p50'), p99: worst('p99'), max: worst('max') },
      peerConnections: pcs,
      listenerCpuMs,
      loadAverage: [loadStart, loadavg()[0]!],
    }
  } finally {
    clearInterval(sampler)
    await teardown()
    forget()
    await stack.stop()
  }
}
