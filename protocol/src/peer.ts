/**
 * The peer protocol: what two listeners say to each other over a WebRTC data channel, once the
 * tracker has introduced them for one swarm (one track version and quality). Binary and small:
 * a type byte, then big-endian fields.
 *
 *   bitfield  0x01  bits[]                 the chunks the sender holds (sent on connect)
 *   have      0x02  u32 index              the sender now holds chunk `index`
 *   request   0x03  u32 index              please send chunk `index`
 *   piece     0x04  u32 index, u32 offset, u32 total, bytes
 *                                          part of chunk `index` (chunks travel in fragments of
 *                                          at most PIECE_FRAGMENT bytes: data channel messages
 *                                          above 16 KiB do not cross every implementation)
 *   cancel    0x05  u32 index              never mind my request for `index`
 *   choke     0x06                         I will not serve you (upload slots full, or I am low on buffer)
 *   unchoke   0x07                         I will serve your requests again
 *   reject    0x08  u32 index              I will not send `index` (don't have it, or choked)
 *   bye       0x09                         I am done with this link: close your end (see below)
 *   swarm     0x0A  u16 channel, info_hash[20]
 *                                          I am in this swarm on this link too, and my messages
 *                                          for it come tagged with `channel` (see below)
 *   leave     0x0B  info_hash[20]          I no longer take part in this swarm on this link
 *   on        0x0C  u16 channel, message   one of bitfield..reject, for the swarm the sender
 *                                          named `channel`
 *
 * One link (one RTCPeerConnection) carries several swarms. It is made through the tracker for
 * one swarm, its home swarm: untagged messages (0x01-0x08) are that swarm's, as if both sides
 * had sent `swarm` for it as channel 0. Either side may then say `swarm` for another swarm it is
 * in; the swarm is open on the link once both sides have said it, and each side's messages for it
 * come wrapped in `on` with the channel the sender chose. `leave` takes back the sender's `swarm`
 * (the swarm closes on the link; the other side answers with its own `leave`). A link thus needs
 * a new RTCPeerConnection only for a remote it is not connected to yet.
 *
 * Closing: the side that wants to close stops writing, sends `bye` as its last message and waits
 * for the other side to close the channel; the side that receives `bye` closes at once. So a
 * channel is only ever torn down by a side with nothing more to send: a Node peer on
 * @roamhq/wrtc crashes (SIGSEGV) when the remote closes a data channel during its send().
 *
 * A receiver verifies every whole chunk against the signed manifest before it plays, caches or
 * shares it; this layer only frames bytes.
 */
export type PeerMessage =
  | { type: 'bitfield'; have: Uint8Array }
  | { type: 'have'; index: number }
  | { type: 'request'; index: number }
  | { type: 'piece'; index: number; offset: number; total: number; data: Uint8Array }
  | { type: 'cancel'; index: number }
  | { type: 'choke' }
  | { type: 'unchoke' }
  | { type: 'reject'; index: number }
  | { type: 'bye' }
  | { type: 'swarm'; channel: number; infoHash: string }
  | { type: 'leave'; infoHash: string }
  | { type: 'on'; channel: number; message: SwarmMessage }

/** The messages that belong to one swarm on a link: untagged in the home swarm, inside `on` in the others. */
export type SwarmMessage = Exclude<PeerMessage, { type: 'bye' } | { type: 'swarm' } | { type: 'leave' } | { type: 'on' }>

/** Channels a side may name on one link (u16; 0 is the home swarm). */
export const MAX_SWARM_CHANNEL = 0xffff

export const PIECE_FRAGMENT = 16 * 1024
const CODES = { bitfield: 1, have: 2, request: 3, piece: 4, cancel: 5, choke: 6, unchoke: 7, reject: 8, bye: 9, swarm: 10, leave: 11, on: 12 } as const
/** The largest chunk index a message may name: far above any track's chunk count. */
const MAX_INDEX = 1 << 20

export class PeerProtocolError extends Error {
  override name = 'PeerProtocolError'
}

export function encodePeerMessage(m: PeerMessage): Uint8Array {
  switch (m.type) {
    case 'bitfield': {
      const out = new Uint8Array(1 + m.have.length)
      out[0] = CODES.bitfield
      out.set(m.have, 1)
      return out
    }
    case 'have':
    case 'request':
    case 'cancel':
    case 'reject': {
      const out = new Uint8Array(5)
      out[0] = CODES[m.type]
      new DataView(out.buffer).setUint32(1, m.index)
      return out
    }
    case 'piece': {
      const out = new Uint8Array(13 + m.data.length)
      const view = new DataView(out.buffer)
      out[0] = CODES.piece
      view.setUint32(1, m.index)
      view.setUint32(5, m.offset)
      view.setUint32(9, m.total)
      out.set(m.data, 13)
      return out
    }
    case 'choke':
    case 'unchoke':
    case 'bye':
      return Uint8Array.of(CODES[m.type])
    case 'swarm': {
      const out = new Uint8Array(23)
      out[0] = CODES.swarm
      new DataView(out.buffer).setUint16(1, checkChannel(m.channel))
      out.set(infoHashBytes(m.infoHash), 3)
      return out
    }
    case 'leave': {
      const out = new Uint8Array(21)
      out[0] = CODES.leave
      out.set(infoHashBytes(m.infoHash), 1)
      return out
    }
    case 'on': {
      const inner = encodePeerMessage(m.message)
      const out = new Uint8Array(3 + inner.length)
      out[0] = CODES.on
      new DataView(out.buffer).setUint16(1, checkChannel(m.channel))
      out.set(inner, 3)
      return out
    }
  }
}

function checkChannel(channel: number): number {
  if (!Number.isInteger(channel) || channel < 0 || channel > MAX_SWARM_CHANNEL) throw new RangeError(`swarm channel out of range: ${channel}`)
  return channel
}

function infoHashBytes(hex: string): Uint8Array {
  if (!/^[0-9a-f]{40}$/.test(hex)) throw new RangeError('an info_hash is 40 lowercase hex characters')
  const out = new Uint8Array(20)
  for (let i = 0; i < 20; i++) out[i] = Number.parseInt(hex.slice(2 * i, 2 * i + 2), 16)
  return out
}

const hexOf = (bytes: Uint8Array) => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')

/** Parses one message from a peer; anything malformed is a PeerProtocolError (the peer gets dropped). */
export function decodePeerMessage(bytes: Uint8Array): PeerMessage {
  if (bytes.length === 0) throw new PeerProtocolError('empty message')
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const index = () => {
    if (bytes.length < 5) throw new PeerProtocolError('message too short')
    const i = view.getUint32(1)
    if (i >= MAX_INDEX) throw new PeerProtocolError('chunk index out of range')
    return i
  }
  const exact = (n: number) => {
    if (bytes.length !== n) throw new PeerProtocolError(`message of type ${bytes[0]} must be ${n} bytes`)
  }
  switch (bytes[0]) {
    case CODES.bitfield:
      if (bytes.length > 1 + MAX_INDEX / 8) throw new PeerProtocolError('bitfield too long')
      return { type: 'bitfield', have: bytes.slice(1) }
    case CODES.have:
      exact(5)
      return { type: 'have', index: index() }
    case CODES.request:
      exact(5)
      return { type: 'request', index: index() }
    case CODES.cancel:
      exact(5)
      return { type: 'cancel', index: index() }
    case CODES.reject:
      exact(5)
      return { type: 'reject', index: index() }
    case CODES.piece: {
      if (bytes.length < 13) throw new PeerProtocolError('piece too short')
      const i = index()
      const offset = view.getUint32(5)
      const total = view.getUint32(9)
      const data = bytes.subarray(13)
      if (total > 4 * 1024 * 1024 || offset + data.length > total) throw new PeerProtocolError('piece fragment outside its chunk')
      return { type: 'piece', index: i, offset, total, data }
    }
    case CODES.choke:
      exact(1)
      return { type: 'choke' }
    case CODES.unchoke:
      exact(1)
      return { type: 'unchoke' }
    case CODES.bye:
      exact(1)
      return { type: 'bye' }
    case CODES.swarm:
      exact(23)
      return { type: 'swarm', channel: view.getUint16(1), infoHash: hexOf(bytes.subarray(3, 23)) }
    case CODES.leave:
      exact(21)
      return { type: 'leave', infoHash: hexOf(bytes.subarray(1, 21)) }
    case CODES.on: {
      if (bytes.length < 4) throw new PeerProtocolError('on too short')
      const inner = bytes.subarray(3)
      // Only a swarm's own messages travel inside `on` (no nesting, no bye or swarm).
      if (inner[0]! < CODES.bitfield || inner[0]! > CODES.reject) throw new PeerProtocolError(`message type ${inner[0]} cannot be sent on a channel`)
      return { type: 'on', channel: view.getUint16(1), message: decodePeerMessage(inner) as SwarmMessage }
    }
    default:
      throw new PeerProtocolError(`unknown message type ${bytes[0]}`)
  }
}

/** Splits a whole chunk into piece messages of at most PIECE_FRAGMENT bytes of data. */
export function pieceMessages(index: number, chunk: Uint8Array): PeerMessage[] {
  const out: PeerMessage[] = []
  for (let offset = 0; offset < chunk.length || offset === 0; offset += PIECE_FRAGMENT) {
    out.push({ type: 'piece', index, offset, total: chunk.length, data: chunk.subarray(offset, offset + PIECE_FRAGMENT) })
    if (chunk.length === 0) break
  }
  return out
}

/** A set of chunk indices as the bitfield's bytes (bit 7 of byte 0 is chunk 0, as in BitTorrent). */
export function toBitfield(indices: Iterable<number>, count: number): Uint8Array {
  const out = new Uint8Array(Math.ceil(count / 8))
  for (const i of indices) if (i >= 0 && i < count) out[i >> 3]! |= 0x80 >> (i & 7)
  return out
}

export function fromBitfield(bits: Uint8Array, count: number): Set<number> {
  const out = new Set<number>()
  for (let i = 0; i < Math.min(count, bits.length * 8); i++) if (bits[i >> 3]! & (0x80 >> (i & 7))) out.add(i)
  return out
}

/** Reassembles fragmented pieces into whole chunks, bounded so a peer cannot make us hold unbounded memory. */
export function createPieceAssembler(maxPending = 8) {
  const pending = new Map<number, { buf: Uint8Array; received: number }>()
  return {
    /** Returns the whole chunk when this fragment completes it. */
    add(m: Extract<PeerMessage, { type: 'piece' }>): Uint8Array | undefined {
      let p = pending.get(m.index)
      if (!p || p.buf.length !== m.total) {
        if (!p && pending.size >= maxPending) throw new PeerProtocolError('too many chunks in flight from one peer')
        p = { buf: new Uint8Array(m.total), received: 0 }
        pending.set(m.index, p)
      }
      p.buf.set(m.data, m.offset)
      p.received += m.data.length
      if (p.received < m.total) return undefined
      pending.delete(m.index)
      return p.buf
    },
    drop(index: number): void {
      pending.delete(index)
    },
  }
}
