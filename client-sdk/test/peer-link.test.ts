// One peer link over a real WebRTC data channel (@roamhq/wrtc through simple-peer): chunks and
// messages sent at once all arrive whole, with one 'drain' listener however many writers wait, and every
// waiting writer is let go when the link closes.

import { randomBytes } from 'node:crypto'
import wrtc from '@roamhq/wrtc'
import SimplePeer from 'simple-peer'
import t from 'tap'
import type { Test } from 'tap'
import { type ControlMessage, type PeerLink, type SimplePeerLike, createPeerLink } from '../src/p2p/peer-link.js'

interface End {
  peer: SimplePeer.Instance
  link: PeerLink
  chunks: Map<number, Uint8Array>
  messages: ControlMessage[]
  closed: Promise<void>
}

/** Two simple-peer instances joined directly (no tracker: signals are handed across), each with a link. */
async function connectedPair(t: Test): Promise<[End, End]> {
  const make = (initiator: boolean): End => {
    const peer = new SimplePeer({ initiator, wrtc, trickle: false })
    const chunks = new Map<number, Uint8Array>()
    const messages: ControlMessage[] = []
    let onClose!: () => void
    const closed = new Promise<void>((resolve) => (onClose = resolve))
    const link = createPeerLink(peer as unknown as SimplePeerLike, {
      onMessage: (m) => messages.push(m),
      onChunk: (index, bytes) => chunks.set(index, bytes),
      onProtocolError: (err) => t.fail(`protocol error: ${err.message}`),
      onClose,
    })
    return { peer, link, chunks, messages, closed }
  }
  const a = make(true)
  const b = make(false)
  a.peer.on('signal', (s) => b.peer.signal(s))
  b.peer.on('signal', (s) => a.peer.signal(s))
  await Promise.all([a, b].map((e) => new Promise<void>((resolve) => e.peer.once('connect', () => resolve()))))
  t.teardown(() => {
    a.link.close()
    b.link.close()
  })
  return [a, b]
}

async function until(check: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const started = Date.now()
  while (!check()) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

t.test('chunks and control messages sent at once arrive whole, and the writers share one drain listener', async (t) => {
  const warnings: string[] = []
  const onWarning = (w: Error) => warnings.push(w.name)
  process.on('warning', onWarning)
  t.teardown(() => void process.off('warning', onWarning))

  const [a, b] = await connectedPair(t)
  const sent = Array.from({ length: 24 }, () => new Uint8Array(randomBytes(128 * 1024)))
  // simple-peer holds 'drain' listeners of its own; the link's are the ones above that.
  const own = a.peer.listenerCount('drain')
  let mostDrainListeners = 0
  // Waves of 8, the most chunks a receiver takes in flight from one peer, each with its 'have's
  // alongside: 16 writers at a time against a 16 KiB stream buffer.
  for (let wave = 0; wave < sent.length; wave += 8) {
    const indices = [...sent.keys()].slice(wave, wave + 8)
    const writes = [...indices.map((i) => a.link.sendChunk(i, sent[i]!)), ...indices.map((i) => a.link.send({ type: 'have', index: i }))]
    // Each writer has written its first message by now, and those that found no room are waiting.
    mostDrainListeners = Math.max(mostDrainListeners, a.peer.listenerCount('drain') - own)
    await Promise.all(writes)
    await until(() => b.chunks.size === wave + indices.length, `wave ${wave / 8 + 1} to arrive`)
  }

  sent.forEach((chunk, i) => {
    if (!Buffer.from(b.chunks.get(i)!).equals(chunk)) t.fail(`chunk ${i} differs`)
  })
  t.equal(b.chunks.size, sent.length, 'every chunk arrived byte for byte')
  t.equal(b.messages.filter((m) => m.type === 'have').length, sent.length, 'control messages went through between the pieces')
  t.equal(mostDrainListeners, 1, 'the waiting writers shared one drain listener')
  t.same(warnings, [], 'no MaxListenersExceededWarning or any other warning')
  t.equal(a.link.bytesOut, b.link.bytesIn, 'what one side wrote, the other read')
})

t.test('writers waiting for room are let go when the link closes', async (t) => {
  const [a, b] = await connectedPair(t)
  const big = Array.from({ length: 8 }, () => new Uint8Array(randomBytes(512 * 1024)))
  const sending = Promise.all(big.map((chunk, i) => a.link.sendChunk(i, chunk)))
  await until(() => a.peer.listenerCount('drain') > 0, 'a writer to wait for room')
  b.link.close()
  await a.closed
  const settled = await Promise.race([sending.then(() => 'settled'), new Promise((resolve) => setTimeout(() => resolve('hung'), 10_000))])
  t.equal(settled, 'settled', 'every sendChunk returned after the close')
  t.ok(a.link.closed)
})
