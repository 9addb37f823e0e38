import type { PeerMessage, SwarmMessage } from '../../../protocol/index.js'

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

/** A swarm's messages but pieces, which arrive as whole chunks through onChunk (bye, swarm, leave and on are the wire's own). */
export type ControlMessage = Exclude<SwarmMessage, { type: 'piece' }>

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
 * One swarm on a data channel to one remote listener (a lane of p2p/peer-wire.ts, which carries
 * several swarms on one RTCPeerConnection; createPeerLink makes a wire with one swarm): frames peer messages, reassembles
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
  /** Sends one of the swarm's messages (the wire's own, bye, swarm, leave and on, are not sent); a request makes this side expect that chunk's pieces, a cancel stops expecting them. Resolves once written (after backpressure); a no-op once closed. */
  send(m: PeerMessage): Promise<void>
  /**
   * Sends a whole chunk as fragments; `beforeFragment` lets the caller pace them (the upload
   * rate cap) and `stop` cut it short (a cancel). Resolves with the bytes of data sent.
   */
  sendChunk(index: number, chunk: Uint8Array, beforeFragment?: (bytes: number) => Promise<void>, stop?: () => boolean): Promise<number>
  /** Chunks asked of the remote and not yet here, and the bytes held for them. */
  readonly expecting: { chunks: number; bytes: number }
  /** Stops writing in the swarm: on a wire, says leave (the wire stays); alone (createPeerLink), says bye, and the channel ends when the remote closes it, or after the grace. Idempotent. */
  close(): void
  /** Resolves when the channel itself has ended. */
  readonly ended: Promise<void>
  /** Nothing more is sent or delivered. */
  readonly closed: boolean
  readonly bytesIn: number
  readonly bytesOut: number
}
