import { type PeerMessage, PeerProtocolError, createPieceAssembler, decodePeerMessage, encodePeerMessage, pieceMessages } from '../../../protocol/index.js'

/** The part of a simple-peer instance a link uses (simple-peer 9 in Node, its bundle in browsers). */
export interface SimplePeerLike {
  on(event: 'signal', fn: (data: { type?: string; sdp?: string }) => void): void
  on(event: 'connect', fn: () => void): void
  on(event: 'data', fn: (data: Uint8Array) => void): void
  on(event: 'close', fn: () => void): void
  on(event: 'error', fn: (err: Error) => void): void
  on(event: 'drain', fn: () => void): void
  once(event: 'drain', fn: () => void): void
  signal(data: unknown): void
  write(data: Uint8Array): boolean
  destroy(err?: Error): void
  readonly connected: boolean
  readonly destroyed: boolean
}

/** Every peer message but pieces, which arrive as whole chunks through onChunk. */
export type ControlMessage = Exclude<PeerMessage, { type: 'piece' }>

export interface PeerLinkEvents {
  onMessage(m: ControlMessage): void
  onChunk(index: number, bytes: Uint8Array): void
  /** The remote broke the protocol; the link is closed. */
  onProtocolError(err: Error): void
  onClose(): void
}

/**
 * One data channel to one remote listener for one swarm: frames peer messages, reassembles
 * chunks, and writes with backpressure (simple-peer's stream write holds back while the data
 * channel's bufferedAmount is high; large transfers stall without that). `delayMs` holds every
 * incoming message back that long, to emulate a link's latency in benchmarks.
 */
export function createPeerLink(peer: SimplePeerLike, events: PeerLinkEvents, options: { delayMs?: number } = {}) {
  const assembler = createPieceAssembler()
  let closed = false
  let bytesIn = 0
  let bytesOut = 0

  function handle(data: Uint8Array): void {
    if (closed) return
    bytesIn += data.byteLength
    let m: PeerMessage
    try {
      m = decodePeerMessage(data)
      if (m.type === 'piece') {
        const whole = assembler.add(m)
        if (whole) events.onChunk(m.index, whole)
        return
      }
    } catch (err) {
      close()
      events.onProtocolError(err instanceof PeerProtocolError ? err : new PeerProtocolError(String(err)))
      return
    }
    events.onMessage(m)
  }

  const delay = options.delayMs ?? 0
  peer.on('data', (data) => {
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
    if (delay > 0) setTimeout(() => handle(bytes), delay)
    else handle(bytes)
  })
  peer.on('close', () => close())
  peer.on('error', () => close())

  function close(): void {
    if (closed) return
    closed = true
    if (!peer.destroyed) peer.destroy()
    // Writers waiting for room would otherwise wait forever on a channel that is gone.
    releaseWriters()
    events.onClose()
  }

  // Every writer that finds the channel full waits on one shared promise and one 'drain'
  // listener: several chunks go out to one peer at once, and a listener each piled up past
  // Node's MaxListeners warning under load.
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

  return {
    send: (m: PeerMessage) => write(encodePeerMessage(m)),
    /** Sends a whole chunk as fragments; `beforeFragment` lets the caller pace them (the upload rate cap). */
    async sendChunk(index: number, chunk: Uint8Array, beforeFragment?: (bytes: number) => Promise<void>): Promise<void> {
      for (const m of pieceMessages(index, chunk)) {
        if (closed) return
        if (beforeFragment) await beforeFragment((m as { data: Uint8Array }).data.byteLength)
        await write(encodePeerMessage(m))
      }
    },
    dropPartial: (index: number) => assembler.drop(index),
    close,
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

export type PeerLink = ReturnType<typeof createPeerLink>
