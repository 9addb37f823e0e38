import { MAX_SWARM_CHANNEL, PIECE_FRAGMENT, type PeerMessage, PeerProtocolError, type SwarmMessage, decodePeerMessage, encodePeerMessage, pieceMessages } from '../../../protocol/index.js'
import { type PieceIntake, createPieceIntake } from '../core/piece-intake.js'
import { BYE_GRACE_MS, type ControlMessage, type PeerLink, type PeerLinkEvents, type PeerLinkOptions, type SimplePeerLike } from './peer-link.js'

/** What a wire tells its owner about the connection as a whole. */
export interface PeerWireEvents {
  /** The remote says it is in this swarm and this side has not opened it on the wire: open() it to share it, or ignore it. */
  onSwarm(infoHash: string): void
  /** The remote broke the protocol (in any swarm); the wire is closed. */
  onProtocolError(err: Error): void
  /** The wire is closed: every lane is closed too. */
  onClose(): void
}

/** What a lane (one swarm on the wire) tells whoever opened it. */
interface LaneEvents {
  /** Both sides are in the swarm on this wire now: messages flow. */
  onOpen(): void
  onMessage(m: ControlMessage): void
  onChunk(index: number, bytes: Uint8Array): void
  /** The lane is closed (this side closed it, the remote left, or the wire ended). */
  onClose(): void
}

export interface PeerWireOptions {
  /** Added latency on every incoming message (benchmarks). */
  delayMs?: number
  byeGraceMs?: number
  /** Swarms the remote may say it is in at once (more is a protocol violation). */
  maxRemoteSwarms?: number
  now?: () => number
}

/**
 * One data channel (one RTCPeerConnection) to one remote listener, carrying several swarms
 * (protocol/src/peer.ts): the home swarm it was made for, untagged, and any other swarm both
 * sides say they are in, each as a lane (a PeerLink) with its own channel and its own piece
 * intake. Writes share the channel's backpressure. Closing a lane says `leave`; closing the wire
 * is the bye handshake (the side with nothing left to send tears the channel down).
 */
export interface PeerWire {
  /** The swarm the wire was made for. */
  readonly home: string
  /**
   * This side takes part in `infoHash` on the wire: says `swarm` (nothing for the home swarm
   * the first time) and returns the lane; `events.onOpen` follows (in a microtask when the remote
   * said it already). The same lane when it is open already.
   */
  open(infoHash: string, events: LaneEvents, chunkLength: (index: number) => number | undefined): PeerLink
  /** This side's lane of a swarm, open or waiting for the remote. */
  lane(infoHash: string): PeerLink | undefined
  /** Whether the remote said it is in the swarm (and has not left it). */
  remoteIn(infoHash: string): boolean
  /** Swarms open on both sides now. */
  readonly openSwarms: string[]
  /** Last time a chunk's byte went either way, or a lane opened or closed. */
  readonly lastActivity: number
  /** Stops writing and says bye; every lane closes. Idempotent. */
  close(): void
  readonly ended: Promise<void>
  readonly closed: boolean
  readonly bytesIn: number
  readonly bytesOut: number
}

interface Lane {
  infoHash: string
  /** The channel this side tags its messages with (0: the home swarm, untagged). */
  channel: number
  events: LaneEvents
  intake: PieceIntake
  open: boolean
  closed: boolean
  link: PeerLink
}

export function createPeerWire(peer: SimplePeerLike, home: string, events: PeerWireEvents, options: PeerWireOptions = {}): PeerWire {
  const now = options.now ?? (() => performance.now())
  const maxRemoteSwarms = options.maxRemoteSwarms ?? 64
  /** This side's lanes by info_hash. */
  const lanes = new Map<string, Lane>()
  /** The remote's swarms on the wire, as far as this side goes on them: info_hash -> its channel (home: 0). */
  const remote = new Map<string, number>([[home, 0]])
  /** The remote's channels it has not taken back yet (its `leave`) -> info_hash. */
  const remoteChannels = new Map<number, string>([[0, home]])
  let homeUsed = false
  let nextChannel = 1
  let closed = false
  let bytesIn = 0
  let bytesOut = 0
  let lastActivity = now()
  let byeTimer: ReturnType<typeof setTimeout> | undefined
  let onEnded!: () => void
  const ended = new Promise<void>((resolve) => (onEnded = resolve))

  function finish(): void {
    clearTimeout(byeTimer)
    byeTimer = undefined
    if (closed) return
    closed = true
    releaseWriters()
    for (const lane of [...lanes.values()]) closeLane(lane, false)
    events.onClose()
  }

  function destroy(): void {
    if (!peer.destroyed) peer.destroy()
    finish()
  }

  function violation(err: Error): void {
    if (closed) return
    close()
    events.onProtocolError(err)
  }

  /**
   * A lane ends; with `tell`, the remote hears `leave`. A leave ends the swarm on the wire for
   * both sides: each side that said `swarm` answers a leave with its own, and the side that left
   * stops counting on the remote's `swarm` at once (so a swarm opened again right away waits for
   * the remote's fresh `swarm` instead of the one being taken back).
   */
  function closeLane(lane: Lane, tell: boolean): void {
    if (lane.closed) return
    lane.closed = true
    lane.open = false
    lane.intake.clear()
    lanes.delete(lane.infoHash)
    lastActivity = now()
    if (tell && !closed) {
      remote.delete(lane.infoHash)
      void write(encodePeerMessage({ type: 'leave', infoHash: lane.infoHash }))
    }
    lane.events.onClose()
  }

  function remoteSays(m: Extract<PeerMessage, { type: 'swarm' }>): void {
    const before = remote.get(m.infoHash)
    if (before !== undefined) remoteChannels.delete(before)
    if (remoteChannels.has(m.channel)) {
      violation(new PeerProtocolError('a channel named twice'))
      return
    }
    if (before === undefined && remoteChannels.size >= maxRemoteSwarms) {
      violation(new PeerProtocolError('too many swarms on one link'))
      return
    }
    remote.set(m.infoHash, m.channel)
    remoteChannels.set(m.channel, m.infoHash)
    const lane = lanes.get(m.infoHash)
    if (lane) {
      if (!lane.open) opened(lane)
    } else events.onSwarm(m.infoHash)
  }

  function remoteLeaves(infoHash: string): void {
    for (const [channel, h] of remoteChannels) if (h === infoHash) remoteChannels.delete(channel)
    // A leave this side stopped counting on already (it left first, the leaves crossed) closes nothing: a lane opened since waits for a fresh `swarm`.
    if (!remote.delete(infoHash)) return
    const lane = lanes.get(infoHash)
    if (lane) closeLane(lane, true)
  }

  function opened(lane: Lane): void {
    lane.open = true
    lastActivity = now()
    lane.events.onOpen()
  }

  function deliver(lane: Lane, m: SwarmMessage): void {
    if (m.type === 'piece') {
      lastActivity = now()
      const out = lane.intake.add(m, now())
      if (out.type === 'chunk') lane.events.onChunk(m.index, out.bytes)
      else if (out.type === 'violation') violation(new PeerProtocolError(out.reason))
      return
    }
    // A refused chunk will not come: fragments of it still on the wire are late, not a violation.
    if (m.type === 'reject') lane.intake.cancelled(m.index, now())
    lane.events.onMessage(m)
  }

  function handle(data: Uint8Array): void {
    let m: PeerMessage
    try {
      m = decodePeerMessage(data)
    } catch (err) {
      violation(err instanceof PeerProtocolError ? err : new PeerProtocolError(String(err)))
      return
    }
    // The remote has sent its last message: end the channel here, where nothing is being sent any more.
    if (m.type === 'bye') {
      destroy()
      return
    }
    if (closed) return
    bytesIn += data.byteLength
    switch (m.type) {
      case 'swarm':
        if (m.channel === 0) {
          violation(new PeerProtocolError('channel 0 is the home swarm'))
          return
        }
        remoteSays(m)
        return
      case 'leave':
        remoteLeaves(m.infoHash)
        return
      case 'on': {
        const infoHash = remoteChannels.get(m.channel)
        if (infoHash === undefined || m.channel === 0) {
          violation(new PeerProtocolError('a message on a channel never named'))
          return
        }
        const lane = lanes.get(infoHash)
        // Not open here (not taken part in, or just left), or on a channel being taken back: late or unasked, and cost nothing.
        if (lane?.open && remote.get(infoHash) === m.channel) deliver(lane, m.message)
        return
      }
      default: {
        if (remoteChannels.get(0) !== home) return
        const lane = lanes.get(home)
        if (lane?.open && remote.get(home) === 0) deliver(lane, m)
      }
    }
  }

  const delay = options.delayMs ?? 0
  peer.on('data', (data) => {
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
    if (delay > 0) setTimeout(() => handle(bytes), delay)
    else handle(bytes)
  })
  peer.on('close', () => {
    onEnded()
    finish()
  })
  peer.on('error', () => finish())
  if (peer.destroyed) onEnded()

  function close(): void {
    if (closed) return
    if (peer.destroyed || !peer.connected) {
      destroy()
      return
    }
    finish()
    peer.write(encodePeerMessage({ type: 'bye' }))
    byeTimer = setTimeout(() => destroy(), options.byeGraceMs ?? BYE_GRACE_MS)
    ;(byeTimer as { unref?: () => void }).unref?.()
  }

  // Every writer that finds the channel full waits on one shared promise and one 'drain' listener.
  let full: { wait: Promise<void>; release: () => void } | undefined
  function releaseWriters(): void {
    const f = full
    full = undefined
    f?.release()
  }
  function whenDrained(): Promise<void> {
    if (!full) {
      let release!: () => void
      const wait = new Promise<void>((resolve) => (release = resolve))
      full = { wait, release }
      peer.once('drain', releaseWriters)
    }
    return full.wait
  }
  async function write(bytes: Uint8Array): Promise<void> {
    if (closed) return
    bytesOut += bytes.byteLength
    if (!peer.write(bytes)) await whenDrained()
  }

  function makeLink(lane: Lane): PeerLink {
    const frame = (m: SwarmMessage) => encodePeerMessage(lane.channel === 0 ? m : { type: 'on', channel: lane.channel, message: m })
    return {
      send(m) {
        if (lane.closed || closed) return Promise.resolve()
        if (m.type === 'bye' || m.type === 'swarm' || m.type === 'leave' || m.type === 'on') return Promise.resolve()
        if (m.type === 'request') lane.intake.requested(m.index)
        else if (m.type === 'cancel') lane.intake.cancelled(m.index, now())
        return write(frame(m))
      },
      async sendChunk(index, chunk, beforeFragment, stop) {
        let sent = 0
        for (const m of pieceMessages(index, chunk)) {
          if (lane.closed || closed || stop?.()) return sent
          const size = (m as { data: Uint8Array }).data.byteLength
          if (beforeFragment) await beforeFragment(size)
          if (lane.closed || closed || stop?.()) return sent
          lastActivity = now()
          await write(frame(m as SwarmMessage))
          sent += size
        }
        return sent
      },
      get expecting() {
        return { chunks: lane.intake.outstanding, bytes: lane.intake.bufferedBytes }
      },
      close: () => closeLane(lane, true),
      ended,
      get closed() {
        return lane.closed || closed
      },
      get bytesIn() {
        return bytesIn
      },
      get bytesOut() {
        return bytesOut
      },
    }
  }

  return {
    home,
    open(infoHash, laneEvents, chunkLength) {
      const existing = lanes.get(infoHash)
      if (existing) return existing.link
      const first = infoHash === home && !homeUsed
      if (!first && nextChannel > MAX_SWARM_CHANNEL) {
        // A wire that opened 65,535 swarms has lived long enough: a new one is cheaper than reuse.
        close()
      }
      const lane: Lane = {
        infoHash,
        channel: first ? 0 : nextChannel++,
        events: laneEvents,
        intake: createPieceIntake({ lengthOf: chunkLength, fragment: PIECE_FRAGMENT }),
        open: false,
        closed: closed,
        link: undefined as unknown as PeerLink,
      }
      if (infoHash === home) homeUsed = true
      lane.link = makeLink(lane)
      if (closed) return lane.link
      lanes.set(infoHash, lane)
      if (lane.channel !== 0) void write(encodePeerMessage({ type: 'swarm', channel: lane.channel, infoHash }))
      if (remote.has(infoHash))
        queueMicrotask(() => {
          if (!lane.closed && !lane.open) opened(lane)
        })
      return lane.link
    },
    lane: (infoHash) => lanes.get(infoHash)?.link,
    remoteIn: (infoHash) => remote.has(infoHash),
    get openSwarms() {
      return [...lanes.values()].filter((l) => l.open).map((l) => l.infoHash)
    },
    get lastActivity() {
      return lastActivity
    },
    close,
    ended,
    get closed() {
      return closed
    },
    get bytesIn() {
      return bytesIn
    },
    get bytesOut() {
      return bytesOut
    },
  }
}

export function createPeerLink(peer: SimplePeerLike, events: PeerLinkEvents, options: PeerLinkOptions = {}): PeerLink {
  // A wire with its home swarm alone; closing the link closes the wire (bye).
  const wire = createPeerWire(peer, HOME, { onSwarm: () => {}, onProtocolError: (err) => events.onProtocolError(err), onClose: () => events.onClose() }, options)
  const lane = wire.open(HOME, { onOpen: () => {}, onMessage: (m) => events.onMessage(m), onChunk: (i, b) => events.onChunk(i, b), onClose: () => {} }, options.chunkLength ?? (() => undefined))
  return {
    send: (m) => lane.send(m),
    sendChunk: (index, chunk, beforeFragment, stop) => lane.sendChunk(index, chunk, beforeFragment, stop),
    get expecting() {
      return lane.expecting
    },
    close: () => wire.close(),
    ended: wire.ended,
    get closed() {
      return wire.closed
    },
    get bytesIn() {
      return wire.bytesIn
    },
    get bytesOut() {
      return wire.bytesOut
    },
  }
}

/** The home swarm's name on a link made without one (createPeerLink). */
const HOME = '0'.repeat(40)

/** Turns a freshly connected peer away politely: bye through a link that delivers nothing. */
export function refusePeer(peer: SimplePeerLike): void {
  const ignore = () => {}
  createPeerLink(peer, { onMessage: ignore, onChunk: ignore, onProtocolError: ignore, onClose: ignore }).close()
}
