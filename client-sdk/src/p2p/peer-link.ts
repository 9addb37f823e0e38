import { PIECE_FRAGMENT, type PeerMessage, PeerProtocolError, decodePeerMessage, encodePeerMessage, pieceMessages } from '../../../protocol/index.js'
import { createPieceIntake } from '../core/piece-intake.js'

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

/** Every peer message but pieces, which arrive as whole chunks through onChunk, and bye, which the link answers itself. */
export type ControlMessage = Exclude<PeerMessage, { type: 'piece' } | { type: 'bye' }>

/** How long a link that said bye waits for the remote to close the channel before closing it itself. */
export const BYE_GRACE_MS = 2000

export interface PeerLinkEvents {
  onMessage(m: ControlMessage): void
  onChunk(index: number, bytes: Uint8Array): void
  /** The remote broke the protocol (a malformed message, a piece of a chunk not asked for or of the wrong length); the link is closed. */
  onProtocolError(err: Error): void
  /** The link is closed: nothing more is sent or delivered (the channel may take BYE_GRACE_MS more to end). */
  onClose(): void
}

export interface PeerLinkOptions {
  /** Added latency on every incoming message (benchmarks). */
  delayMs?: number
  byeGraceMs?: number
  /** The real length of chunk `index` of this swarm (from the signed manifest); none: no piece is ever accepted. */
  chunkLength?: (index: number) => number | undefined
  now?: () => number
}

/**
 * One data channel to one remote listener for one swarm: frames peer messages, reassembles
 * the chunks this side asked for (core/piece-intake.ts: pieces of any other chunk, or claiming
 * another length, are a protocol violation), and writes with backpressure (simple-peer's stream write holds back while the data
 * channel's bufferedAmount is high; large transfers stall without that). `delayMs` holds every
 * incoming message back that long, to emulate a link's latency in benchmarks.
 *
 * Closing is a handshake (protocol/src/peer.ts): close() stops writing and says bye; the remote
 * closes the channel on reading it, or after `byeGraceMs` this side does. The channel is thus torn
 * down by the side with nothing left to send: @roamhq/wrtc crashes the process when a data
 * channel is closed from the far side while a send() on it is under way.
 */
export interface PeerLink {
  /** Sends one message; a request makes this side expect that chunk's pieces, a cancel stops expecting them. Resolves once written (after backpressure); a no-op once closed. */
  send(m: PeerMessage): Promise<void>
  /**
   * Sends a whole chunk as fragments; `beforeFragment` lets the caller pace them (the upload
   * rate cap) and `stop` cut it short (a cancel). Resolves with the bytes of data sent.
   */
  sendChunk(index: number, chunk: Uint8Array, beforeFragment?: (bytes: number) => Promise<void>, stop?: () => boolean): Promise<number>
  /** Chunks asked of the remote and not yet here, and the bytes held for them. */
  readonly expecting: { chunks: number; bytes: number }
  /** Stops writing and says bye; the channel ends when the remote closes it, or after the grace. Idempotent. */
  close(): void
  /** Resolves when the channel itself has ended. */
  readonly ended: Promise<void>
  /** Nothing more is sent or delivered. */
  readonly closed: boolean
  readonly bytesIn: number
  readonly bytesOut: number
}

export function createPeerLink(peer: SimplePeerLike, events: PeerLinkEvents, options: PeerLinkOptions = {}): PeerLink {
  const now = options.now ?? (() => performance.now())
  const intake = createPieceIntake({ lengthOf: options.chunkLength ?? (() => undefined), fragment: PIECE_FRAGMENT })
  let closed = false
  let bytesIn = 0
  let bytesOut = 0
  /** Set while this side has said bye and waits for the remote to end the channel. */
  let byeTimer: ReturnType<typeof setTimeout> | undefined
  let onEnded!: () => void
  /** Resolves once the data channel itself is gone: at most byeGraceMs after close(). */
  const ended = new Promise<void>((resolve) => (onEnded = resolve))

  /** Marks the link closed, once: writers are let go and the owner hears of it. */
  function finish(): void {
    clearTimeout(byeTimer)
    byeTimer = undefined
    if (closed) return
    closed = true
    // Writers waiting for room would otherwise wait forever on a channel that is gone.
    releaseWriters()
    events.onClose()
  }

  /** Ends the channel from this side: only when this side sends nothing more. */
  function destroy(): void {
    if (!peer.destroyed) peer.destroy()
    finish()
  }

  /**
   * The remote broke the protocol: nothing more of it is read, and the link closes with the bye
   * handshake like any other (a channel torn down under the remote's send() can crash it).
   */
  function violation(err: Error): void {
    if (closed) return
    intake.clear()
    close()
    events.onProtocolError(err)
  }

  function handle(data: Uint8Array): void {
    let m: PeerMessage
    try {
      m = decodePeerMessage(data)
    } catch (err) {
      violation(err instanceof PeerProtocolError ? err : new PeerProtocolError(String(err)))
      return
    }
    // The remote has sent its last message: end the channel here, where nothing is being sent
    // any more (if our close() said bye too, this ends its wait).
    if (m.type === 'bye') {
      destroy()
      return
    }
    if (closed) return
    bytesIn += data.byteLength
    if (m.type === 'piece') {
      const out = intake.add(m, now())
      if (out.type === 'chunk') events.onChunk(m.index, out.bytes)
      else if (out.type === 'violation') violation(new PeerProtocolError(out.reason))
      return
    }
    // A refused chunk will not come: fragments of it still on the wire are late, not a violation.
    if (m.type === 'reject') intake.cancelled(m.index, now())
    events.onMessage(m)
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

  /** Stops sending and says bye; the channel ends when the remote closes it, or after byeGraceMs. */
  function close(): void {
    if (closed) return
    if (peer.destroyed || !peer.connected) {
      destroy()
      return
    }
    finish()
    // bye goes out behind whatever is already queued, so the remote reads it last.
    peer.write(encodePeerMessage({ type: 'bye' }))
    byeTimer = setTimeout(() => destroy(), options.byeGraceMs ?? BYE_GRACE_MS)
    ;(byeTimer as { unref?: () => void }).unref?.()
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
    send(m) {
      if (closed) return Promise.resolve()
      if (m.type === 'request') intake.requested(m.index)
      else if (m.type === 'cancel') intake.cancelled(m.index, now())
      return write(encodePeerMessage(m))
    },
    async sendChunk(index, chunk, beforeFragment, stop) {
      let sent = 0
      for (const m of pieceMessages(index, chunk)) {
        if (closed || stop?.()) return sent
        const size = (m as { data: Uint8Array }).data.byteLength
        if (beforeFragment) await beforeFragment(size)
        if (closed || stop?.()) return sent
        await write(encodePeerMessage(m))
        sent += size
      }
      return sent
    },
    get expecting() {
      return { chunks: intake.outstanding, bytes: intake.bufferedBytes }
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

/** Turns a freshly connected peer away politely: bye through a link that delivers nothing. */
export function refusePeer(peer: SimplePeerLike): void {
  const ignore = () => {}
  createPeerLink(peer, { onMessage: ignore, onChunk: ignore, onProtocolError: ignore, onClose: ignore }).close()
}
