// One wire (src/p2p/peer-wire.ts) over a real WebRTC data channel (@roamhq/wrtc through
// simple-peer) carrying several swarms: a swarm opens once both sides say it, chunks of two
// swarms with the same indices stay apart, leave closes one swarm and not the wire, a swarm can
// open again, and a message on a channel never named is a protocol violation that closes it all.

import { randomBytes } from 'node:crypto'
import wrtc from '@roamhq/wrtc'
import SimplePeer from 'simple-peer'
import t from 'tap'
import type { Test } from 'tap'
import { encodePeerMessage } from '../../protocol/index.js'
import type { ControlMessage, SimplePeerLike } from '../src/p2p/peer-link.js'
import { type PeerWire, createPeerWire } from '../src/p2p/peer-wire.js'
import { until } from './stack.js'

const HOME = '11'.repeat(20)
const OTHER = '22'.repeat(20)

interface Side {
  peer: SimplePeer.Instance
  wire: PeerWire
  /** Swarms the remote said and this side did not open (yet). */
  said: string[]
  /** Swarms this side opens as soon as the remote says them. */
  auto: Set<string>
  lanes: Map<string, ReturnType<Side['open']>>
  violations: string[]
  open(infoHash: string): { opened: () => boolean; closed: () => boolean; chunks: Map<number, Uint8Array>; messages: ControlMessage[]; link: ReturnType<PeerWire['open']> }
}

async function pair(t: Test): Promise<[Side, Side]> {
  const make = (initiator: boolean): Side => {
    const peer = new SimplePeer({ initiator, wrtc, trickle: false })
    const side: Side = {
      peer,
      wire: undefined as unknown as PeerWire,
      said: [],
      auto: new Set(),
      lanes: new Map(),
      violations: [],
      open(infoHash) {
        let opened = false
        let closed = false
        const chunks = new Map<number, Uint8Array>()
        const messages: ControlMessage[] = []
        const link = side.wire.open(infoHash, { onOpen: () => (opened = true), onMessage: (m) => messages.push(m), onChunk: (i, b) => chunks.set(i, b), onClose: () => (closed = true) }, () => 4096)
        const lane = { opened: () => opened, closed: () => closed, chunks, messages, link }
        side.lanes.set(infoHash, lane)
        return lane
      },
    }
    side.wire = createPeerWire(peer as unknown as SimplePeerLike, HOME, {
      onSwarm: (h) => {
        side.said.push(h)
        if (side.auto.has(h)) side.open(h)
      },
      onProtocolError: (err) => side.violations.push(err.message),
      onClose: () => {},
    })
    return side
  }
  const a = make(true)
  const b = make(false)
  a.peer.on('signal', (s) => b.peer.signal(s))
  b.peer.on('signal', (s) => a.peer.signal(s))
  await Promise.all([a, b].map((e) => new Promise<void>((resolve) => e.peer.once('connect', () => resolve()))))
  t.teardown(() => {
    a.wire.close()
    b.wire.close()
    return Promise.all([a.wire.ended, b.wire.ended])
  })
  return [a, b]
}

t.test('two swarms on one wire, apart, and one left without the other', async (t) => {
  const [a, b] = await pair(t)
  const aHome = a.open(HOME)
  const bHome = b.open(HOME)
  await until(() => aHome.opened() && bHome.opened(), 'the home swarm to open')

  const aOther = a.open(OTHER)
  await until(() => b.said.includes(OTHER), 'b to hear that a is in the other swarm')
  t.notOk(aOther.opened(), 'not open until b says it too')
  const bOther = b.open(OTHER)
  await until(() => aOther.opened() && bOther.opened(), 'the other swarm to open')

  // Chunk 0 in both swarms, different bytes: each arrives in its own swarm.
  const home = new Uint8Array(randomBytes(4096))
  const other = new Uint8Array(randomBytes(4096))
  void bHome.link.send({ type: 'request', index: 0 })
  void bOther.link.send({ type: 'request', index: 0 })
  await until(() => aHome.messages.length === 1 && aOther.messages.length === 1, 'both requests')
  await Promise.all([aHome.link.sendChunk(0, home), aOther.link.sendChunk(0, other)])
  await until(() => bHome.chunks.size === 1 && bOther.chunks.size === 1, 'both chunks')
  t.ok(Buffer.from(bHome.chunks.get(0)!).equals(home), 'the home chunk in the home swarm')
  t.ok(Buffer.from(bOther.chunks.get(0)!).equals(other), 'the other chunk in the other swarm')

  bOther.link.close()
  await until(() => aOther.closed(), 'a to see b leave the other swarm')
  t.notOk(a.wire.closed || b.wire.closed, 'the wire stays')
  t.same(a.wire.openSwarms, [HOME])
  void bHome.link.send({ type: 'have', index: 3 })
  await until(() => aHome.messages.some((m) => m.type === 'have'), 'the home swarm still carries messages')

  const again = b.open(OTHER)
  await until(() => a.said.filter((h) => h === OTHER).length === 1, 'a to hear b in the other swarm again')
  const aAgain = a.open(OTHER)
  await until(() => again.opened() && aAgain.opened(), 'the other swarm to open again')

  // Left and taken part in again at once, before the remote answered the leave: the two settle
  // open (the leave being answered does not close the new lane, and no leaves go back and forth).
  a.auto.add(OTHER)
  again.link.close()
  const third = b.open(OTHER)
  await until(() => third.opened() && a.wire.openSwarms.includes(OTHER), 'the swarm to open a third time')
  void third.link.send({ type: 'have', index: 2 })
  await until(() => a.lanes.get(OTHER)!.messages.some((m) => m.type === 'have' && m.index === 2), 'a message in it')
  t.notOk(third.closed(), 'and it stays open')
  t.same(a.wire.openSwarms.sort(), [HOME, OTHER].sort())
  t.same(a.violations, [])
  t.same(b.violations, [])
})

t.test('a message on a channel never named closes the wire', async (t) => {
  const [a, b] = await pair(t)
  a.open(HOME)
  b.open(HOME)
  a.peer.write(encodePeerMessage({ type: 'on', channel: 7, message: { type: 'have', index: 1 } }))
  await until(() => b.violations.length === 1, 'the violation')
  await until(() => a.wire.closed && b.wire.closed, 'both sides to close (bye)')
})
