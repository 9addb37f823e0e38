// One peer link over a real WebRTC data channel (@roamhq/wrtc through simple-peer): chunks and
// messages sent at once all arrive whole, with one 'drain' listener however many writers wait; a
// close says bye, so the channel is ended by the side that is not sending (@roamhq/wrtc crashes
// the process when the far side closes a channel during a send), and every waiting writer is let go.

import { randomBytes } from 'node:crypto'
import wrtc from '@roamhq/wrtc'
import SimplePeer from 'simple-peer'
import t from 'tap'
import type { Test } from 'tap'
import type { ControlMessage, PeerLink, SimplePeerLike } from '../src/p2p/peer-link.js'
import { createPeerLink } from '../src/p2p/peer-wire.js'

const GRACE_MS = 10_000

interface End {
  peer: SimplePeer.Instance
  link: PeerLink
  chunks: Map<number, Uint8Array>
  messages: ControlMessage[]
  closed: Promise<void>
  /** Asks the other side for chunk `index` of `length` bytes: a link takes pieces only of chunks it asked for. */
  ask(index: number, length: number): void
}

/** Two simple-peer instances joined directly (no tracker: signals are handed across), each with a link. */
async function connectedPair(t: Test, byeGraceMs = GRACE_MS): Promise<[End, End]> {
  const make = (initiator: boolean): End => {
    const peer = new SimplePeer({ initiator, wrtc, trickle: false })
    const chunks = new Map<number, Uint8Array>()
    const messages: ControlMessage[] = []
    const lengths = new Map<number, number>()
    let onClose!: () => void
    const closed = new Promise<void>((resolve) => (onClose = resolve))
    const link = createPeerLink(
      peer as unknown as SimplePeerLike,
      {
        onMessage: (m) => messages.push(m),
        onChunk: (index, bytes) => chunks.set(index, bytes),
        onProtocolError: (err) => t.fail(`protocol error: ${err.message}`),
        onClose,
      },
      { byeGraceMs, chunkLength: (i) => lengths.get(i) },
    )
    const ask = (index: number, length: number) => {
      lengths.set(index, length)
      void link.send({ type: 'request', index })
    }
    return { peer, link, chunks, messages, closed, ask }
  }
  const a = make(true)
  const b = make(false)
  a.peer.on('signal', (s) => b.peer.signal(s))
  b.peer.on('signal', (s) => a.peer.signal(s))
  await Promise.all([a, b].map((e) => new Promise<void>((resolve) => e.peer.once('connect', () => resolve()))))
  t.teardown(() => {
    a.link.close()
    b.link.close()
    return Promise.all([a.link.ended, b.link.ended])
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
    for (const i of indices) b.ask(i, sent[i]!.length)
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
  t.equal(a.messages.filter((m) => m.type === 'request').length, sent.length, 'the requests went the other way')
  t.equal(mostDrainListeners, 1, 'the waiting writers shared one drain listener')
  t.same(warnings, [], 'no MaxListenersExceededWarning or any other warning')
  t.equal(a.link.bytesOut, b.link.bytesIn, 'what one side wrote, the other read')
})

t.test("writers waiting for room are let go when the remote's bye ends the link", async (t) => {
  const [a, b] = await connectedPair(t)
  const big = Array.from({ length: 8 }, () => new Uint8Array(randomBytes(512 * 1024)))
  big.forEach((chunk, i) => {
    b.ask(i, chunk.length)
  })
  const sending = Promise.all(big.map((chunk, i) => a.link.sendChunk(i, chunk)))
  await until(() => a.peer.listenerCount('drain') > 0, 'a writer to wait for room')
  b.link.close()
  t.ok(b.link.closed, 'the closing side is closed to its owner at once')
  await a.closed
  const settled = await Promise.race([sending.then(() => 'settled'), new Promise((resolve) => setTimeout(() => resolve('hung'), 10_000))])
  t.equal(settled, 'settled', 'every sendChunk returned after the close')
  t.ok(a.link.closed)
  await b.link.ended
  t.ok(a.peer.destroyed && b.peer.destroyed, 'both channels ended, long before the grace (10 s) ran out')
})

t.test('what was written before close arrives before the channel ends', async (t) => {
  const [a, b] = await connectedPair(t)
  const sent = Array.from({ length: 6 }, () => new Uint8Array(randomBytes(200 * 1024)))
  sent.forEach((chunk, i) => {
    b.ask(i, chunk.length)
  })
  await Promise.all(sent.map((chunk, i) => a.link.sendChunk(i, chunk)))
  // Written, not delivered: most of it still sits in a's buffers when a says bye.
  a.link.close()
  await b.closed
  t.equal(b.chunks.size, sent.length, 'b read every chunk before the bye')
  sent.forEach((chunk, i) => {
    t.ok(Buffer.from(b.chunks.get(i)!).equals(chunk), `chunk ${i} intact`)
  })
  await a.link.ended
  t.ok(b.peer.destroyed, 'b, the side that read the bye, ended the channel')
})

t.test('a remote that never answers bye has its channel ended after the grace', async (t) => {
  const started = Date.now()
  const [a, b] = await connectedPair(t, 400)
  // b's peer goes deaf: its link no longer reads anything, so it never hears the bye.
  b.peer.removeAllListeners('data')
  a.link.close()
  t.notOk(a.peer.destroyed, 'the channel is kept open for the answer')
  await a.link.ended
  t.ok(a.peer.destroyed, 'then ended from this side')
  t.ok(Date.now() - started >= 400, 'not before the grace ran out')
})

t.test('closing links in the middle of transfers both ways, again and again, crashes nothing', async (t) => {
  // Each round: both sides stream chunks at each other and one of them closes mid-stream. Before
  // the bye, the far side's send() raced the close and @roamhq/wrtc segfaulted about one run in six.
  for (let round = 0; round < 6; round++) {
    const [a, b] = await connectedPair(t)
    const chunk = new Uint8Array(randomBytes(256 * 1024))
    for (const i of [0, 1, 2, 3, 4, 5]) {
      a.ask(i, chunk.length)
      b.ask(i, chunk.length)
    }
    const traffic = [0, 1, 2, 3, 4, 5].flatMap((i) => [a.link.sendChunk(i, chunk), b.link.sendChunk(i, chunk)])
    await until(() => a.chunks.size + b.chunks.size > 0, 'the first chunk across')
    ;(round % 2 === 0 ? a : b).link.close()
    await Promise.all([...traffic, a.closed, b.closed, a.link.ended, b.link.ended])
  }
  t.pass('six rounds, every channel ended, the process still here')
})
