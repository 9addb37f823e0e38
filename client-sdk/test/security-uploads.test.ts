// Issue 15, finding 2: a peer's requests were not limited and `cancel` did nothing: 2,000 requests
// (10 KB in all) made a listener upload 65.5 MB. A hostile peer reaches a real SDK client (a
// holder of the track) through the real tracker over real WebRTC and repeats the attack; then a
// request-and-cancel, and a peer asking for as much as it can get against the default rate cap.

import t from 'tap'
import type { Test } from 'tap'
import { swarmInfoHash } from '../../protocol/index.js'
import { DEFAULT_UPLOAD_RATE } from '../src/p2p/uploads.js'
import { type HostilePeer, hostilePeer, waitFor, within } from './hostile-peer.js'
import { drain, sleep, startStack, until } from './stack.js'

const CHUNK = 16 * 1024

/** A holder: a client that played the whole track and serves it. */
async function holder(stack: Awaited<ReturnType<typeof startStack>>, trackId: string, extra = {}) {
  const h = await stack.client({ speed: 0, ...extra })
  await drain(h.client.play(trackId, { quality: 160 }).stream)
  return h
}

async function attacker(t: Test, stack: Awaited<ReturnType<typeof startStack>>, trackId: string): Promise<HostilePeer> {
  const m = await stack.manifest(trackId)
  const h = await hostilePeer(t, { trackerUrl: stack.trackerUrl, infoHash: await swarmInfoHash(trackId, m.version, 160), left: 1_000_000 })
  await waitFor(h, (x) => x.type === 'bitfield', 'the victim to greet the attacker')
  return h
}

t.test('requests past the per-peer cap are refused and a flood gets the peer dropped; cancel stops uploads; the rate cap holds by default', async (t) => {
  const stack = await startStack(
    t,
    [
      { trackId: 'flood', seconds: 40 },
      { trackId: 'cancel', seconds: 20 },
      { trackId: 'rate', seconds: 60 },
    ],
    { bitrates: [160] },
  )
  const chunks = (await stack.manifest('flood')).qualities[0]!.chunkCount
  t.ok(chunks > 32, `the track has ${chunks} chunks`)

  t.test('2,000 requests in one burst: at most 16 chunks go out, the peer is dropped, an honest peer is served after', async (t) => {
    const victim = await holder(stack, 'flood')
    const h = await attacker(t, stack, 'flood')
    // 2,000 request messages of 5 bytes written at once, as in the review.
    for (let i = 0; i < 2000; i++) h.send({ type: 'request', index: i % chunks })
    await within(h.bye, 15_000, 'the victim to drop the flooding peer')
    const net = victim.client.stats().network!
    t.ok(h.pieceBytes <= 16 * CHUNK, `the attacker got ${h.pieceBytes} bytes (at most 16 chunks of ${CHUNK}; it asked for ${2000 * CHUNK})`)
    t.ok(net.uploadedBytes <= 16 * CHUNK, `the victim uploaded ${net.uploadedBytes} bytes`)
    t.ok(h.messages.filter((m) => m.type === 'reject').length > 0, 'requests past the cap were refused')
    t.equal(net.protocolViolations, 1, 'the flood is a protocol violation')
    t.equal(net.banned, 1)

    const honest = await stack.client({ speed: 4 })
    const p = honest.client.play('flood', { quality: 160 })
    t.ok((await drain(p.stream)).equals(await stack.reference('flood', 160)), 'an honest listener plays the track byte for byte')
    t.ok(p.stats()!.bytes.peer > 0, `and is served by the victim (peer ${p.stats()!.bytes.peer} bytes)`)
  })

  t.test('a cancel takes queued chunks out and stops the one being sent', async (t) => {
    // 16 KiB/s: the first 64 KiB go at once (the bucket's burst), then one chunk a second.
    const victim = await holder(stack, 'cancel', { upload: { rate: 16 * 1024 } })
    const h = await attacker(t, stack, 'cancel')
    for (let i = 0; i < 15; i++) h.send({ type: 'request', index: i })
    await until(() => h.pieceBytes > 0, 'the first piece')
    for (let i = 0; i < 15; i++) h.send({ type: 'cancel', index: i })
    await sleep(500)
    const atCancel = h.pieceBytes
    await sleep(3000)
    t.equal(h.pieceBytes, atCancel, `nothing more came after the cancels (${atCancel} bytes; 15 chunks are ${15 * CHUNK})`)
    t.ok(atCancel <= 6 * CHUNK, `at most the burst and the chunk in progress went out (${atCancel} bytes)`)
    const up = victim.client.stats().network!.uploads
    t.ok(up.cancelled >= 9, `the victim honoured ${up.cancelled} cancels`)
    t.equal(up.serving, 0, 'and serves nobody now')
    t.equal(h.closed, false, 'cancelling is no violation')
  })

  t.test('the default upload rate cap holds against a peer that asks for all it can get', async (t) => {
    const victim = await holder(stack, 'rate')
    const h = await attacker(t, stack, 'rate')
    // 12 requests outstanding at all times (under the cap of 16): each chunk that completes is asked for again.
    h.onMessage((m) => {
      if (m.type === 'piece' && m.offset + m.data.length === m.total && !h.closed) h.send({ type: 'request', index: m.index })
    })
    const started = performance.now()
    for (let i = 0; i < 12; i++) h.send({ type: 'request', index: i })
    await sleep(4000)
    const seconds = (performance.now() - started) / 1000
    const got = h.pieceBytes
    const bound = DEFAULT_UPLOAD_RATE * seconds + DEFAULT_UPLOAD_RATE / 4 + CHUNK
    t.ok(got > DEFAULT_UPLOAD_RATE, `it was served (${got} bytes in ${seconds.toFixed(1)} s)`)
    t.ok(got <= bound, `${(got / seconds / 1024).toFixed(0)} KiB/s: within the default cap of ${DEFAULT_UPLOAD_RATE / 1024} KiB/s (and its burst)`)
    t.equal(victim.client.stats().network!.protocolViolations, 0, 'asking within the caps is no violation')
  })
})
