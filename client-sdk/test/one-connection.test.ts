// Issue 13: one RTCPeerConnection per remote listener, reused across tracks. A listener who holds
// two tracks and a newcomer who plays both share them over one connection (counted through
// @roamhq/wrtc itself): the second track opens on the connection made for the first, asked over
// the link, with no new offer.

import t from 'tap'
import { countingWrtc, drain, startStack, until } from './stack.js'

t.test('two tracks from one listener to another over one RTCPeerConnection', async (t) => {
  const stack = await startStack(
    t,
    [
      { trackId: 'one', seconds: 30 },
      { trackId: 'two', seconds: 30 },
    ],
    { bitrates: [160] },
  )
  const references = { one: await stack.reference('one', 160), two: await stack.reference('two', 160) }

  const holderRtc = countingWrtc()
  const holder = await stack.client({ speed: 0, wrtc: holderRtc.wrtc })
  await drain(holder.client.play('one', { quality: 160 }).stream)
  await drain(holder.client.play('two', { quality: 160 }).stream)
  await until(() => holder.client.stats().network!.swarms === 2, 'the holder to serve both tracks')
  t.equal(holderRtc.counter.made, 0, 'the holder alone made no RTCPeerConnection')

  const newcomerRtc = countingWrtc()
  const newcomer = await stack.client({ speed: 6, wrtc: newcomerRtc.wrtc })
  const first = newcomer.client.play('one', { quality: 160 })
  t.ok((await drain(first.stream)).equals(references.one), 'the newcomer hears the first track byte for byte')
  t.ok(first.stats()!.bytes.peer > 0, `part of it from the holder (${first.stats()!.bytes.peer} bytes)`)
  const second = newcomer.client.play('two', { quality: 160 })
  t.ok((await drain(second.stream)).equals(references.two), 'and the second one')
  t.ok(second.stats()!.bytes.peer > 0, `part of it from the holder too (${second.stats()!.bytes.peer} bytes)`)

  const net = newcomer.client.stats().network!
  t.equal(newcomerRtc.counter.made, 1, 'the newcomer made one RTCPeerConnection for both tracks')
  t.equal(holderRtc.counter.made, 1, 'and the holder one, its answer')
  t.equal(net.offers, 1, 'one offer in all')
  t.equal(net.connections, 1, 'one connection open')
  t.ok(net.swarmsOnExistingConnections >= 1, 'the second track opened on the connection made for the first')
  t.type(net.firstPeerByteMs, 'number', 'time to the first peer byte is in the stats')
})
