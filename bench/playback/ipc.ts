import type { ClientOptions } from '../../client-sdk/index.js'
import type { Catalog } from './catalog.js'
import type { PeerConnectionCounters } from './counting-wrtc.js'
import type { PlayRecord, SessionRecord } from './listener.js'
import type { ListenerScript } from './scenario.js'

/** Messages between a phase (the parent) and the processes that run its listeners. */
export interface WorkerInit {
  type: 'init'
  p2p: boolean
  catalog: Catalog
  edgeUrl: string
  keysUrl: string
  apiKey: string
  cacheRoot: string
  speed: number
  seed: number
  /** Absolute ms (performance.timeOrigin + now()): one time base for every process. */
  phaseStart: number
  deadline: number
  scheduler?: ClientOptions['scheduler']
  listeners: Array<{ script: ListenerScript; trackerUrl: string | undefined }>
}

/** Cumulative counters of one worker's listeners. */
export interface WorkerCounters {
  cache: number
  peer: number
  edge: number
  online: number
  /** Open file descriptors of the worker: each RTCPeerConnection holds dozens. */
  fds: number
}

export type WorkerMessage =
  | { type: 'ready' }
  | { type: 'play'; record: PlayRecord }
  | { type: 'session'; record: SessionRecord }
  | { type: 'counters'; counters: WorkerCounters }
  | { type: 'log'; line: string }
  | { type: 'done'; counters: WorkerCounters; eventLoopMs: { p50: number; p99: number; max: number }; maxFds: number; peerConnections: PeerConnectionCounters; cpuMs: number }

export const absoluteNow = () => performance.timeOrigin + performance.now()
