import t from 'tap'
import { PIECE_FRAGMENT, type PeerMessage, PeerProtocolError, createPieceAssembler, decodePeerMessage, encodePeerMessage, fromBitfield, pieceMessages, toBitfield } from '../index.js'

t.test('every message survives a round trip, in the sizes the table gives', async (t) => {
  const messages: Array<[PeerMessage, number]> = [
    [{ type: 'bitfield', have: Uint8Array.of(0b1010_0000, 1) }, 3],
    [{ type: 'have', index: 7 }, 5],
    [{ type: 'request', index: 70_000 }, 5],
    [{ type: 'piece', index: 3, offset: 16_384, total: 32_768, data: Uint8Array.of(1, 2, 3) }, 16],
    [{ type: 'cancel', index: 0 }, 5],
    [{ type: 'choke' }, 1],
    [{ type: 'unchoke' }, 1],
    [{ type: 'reject', index: 9 }, 5],
    [{ type: 'bye' }, 1],
    [{ type: 'swarm', channel: 513, infoHash: 'abababababababababababababababababababab' }, 23],
    [{ type: 'leave', infoHash: 'abababababababababababababababababababab' }, 21],
    [{ type: 'on', channel: 2, message: { type: 'have', index: 7 } }, 8],
    [{ type: 'on', channel: 65_535, message: { type: 'piece', index: 3, offset: 0, total: 3, data: Uint8Array.of(1, 2, 3) } }, 19],
  ]
  for (const [m, size] of messages) {
    const bytes = encodePeerMessage(m)
    t.equal(bytes.length, size, `${m.type} is ${size} bytes`)
    t.same(decodePeerMessage(bytes), m, m.type)
  }
  t.same([...encodePeerMessage({ type: 'bye' })], [0x09], 'bye is type 0x09 alone')
})

t.test('malformed messages are PeerProtocolErrors', async (t) => {
  const bad: Array<[string, Uint8Array]> = [
    ['empty', new Uint8Array(0)],
    ['unknown type', Uint8Array.of(0x0d)],
    ['short swarm', Uint8Array.of(0x0a, 0, 1, 2)],
    ['bye on a channel', Uint8Array.of(0x0c, 0, 1, 0x09)],
    ['on inside on', Uint8Array.of(0x0c, 0, 1, 0x0c, 0, 1, 0x06)],
    ['empty on', Uint8Array.of(0x0c, 0, 1)],
    ['short have', Uint8Array.of(0x02, 0, 0)],
    ['long request', Uint8Array.of(0x03, 0, 0, 0, 1, 0)],
    ['index out of range', Uint8Array.of(0x02, 0x7f, 0, 0, 0)],
    ['bye with a body', Uint8Array.of(0x09, 0)],
    ['choke with a body', Uint8Array.of(0x06, 1)],
    ['piece past its chunk', encodePeerMessage({ type: 'piece', index: 0, offset: 10, total: 12, data: Uint8Array.of(1, 2, 3) })],
    ['bitfield too long', new Uint8Array(2 + (1 << 17))],
  ]
  bad[bad.length - 1]![1][0] = 0x01
  for (const [what, bytes] of bad) t.throws(() => decodePeerMessage(bytes), PeerProtocolError, what)
})

t.test('chunks travel as fragments and come back whole', async (t) => {
  const chunk = Uint8Array.from({ length: 2 * PIECE_FRAGMENT + 5 }, (_, i) => i & 0xff)
  const parts = pieceMessages(4, chunk)
  t.equal(parts.length, 3)
  const assembler = createPieceAssembler()
  // Fragments may arrive in any order within a chunk.
  t.equal(assembler.add(parts[2] as Extract<PeerMessage, { type: 'piece' }>), undefined)
  t.equal(assembler.add(parts[0] as Extract<PeerMessage, { type: 'piece' }>), undefined)
  t.same(assembler.add(parts[1] as Extract<PeerMessage, { type: 'piece' }>), chunk)
  t.equal(pieceMessages(1, new Uint8Array(0)).length, 1, 'an empty chunk is one empty piece')

  const bounded = createPieceAssembler(2)
  const first = (index: number) => pieceMessages(index, chunk)[0] as Extract<PeerMessage, { type: 'piece' }>
  bounded.add(first(0))
  bounded.add(first(1))
  t.throws(() => bounded.add(first(2)), PeerProtocolError, 'a peer cannot keep more chunks half-sent than the bound')
  bounded.drop(0)
  t.doesNotThrow(() => bounded.add(first(2)), 'a dropped chunk frees its place')
})

t.test('bitfields', async (t) => {
  const bits = toBitfield([0, 3, 9, 40], 12)
  t.same([...bits], [0b1001_0000, 0b0100_0000], 'indices past the count are left out')
  t.same([...fromBitfield(bits, 12)], [0, 3, 9])
  t.same([...fromBitfield(Uint8Array.of(0xff), 3)], [0, 1, 2], 'bits past the count are ignored')
})
