// Issue 15, finding 4: 75 offers from made-up peer ids kept a listener from ever answering an
// honest peer. Here several hostile sockets join the real tracker's swarms of the tracks a real
// SDK client seeds and flood it with real WebRTC offers that will never connect (each socket its
// own certificate, a made-up peer id per swarm, hundreds of offers in all); an honest listener
// arriving in the middle of it still connects to the seeder and plays from it.

import t from 'tap'
import { swarmInfoHash } from '../../protocol/index.js'
import { deadOffer, hexId, trackerSocket } from './hostile-peer.js'
import { countingWrtc, drain, sleep, startStack, until } from './stack.js'

t.test('a flood of bogus offers through the real tracker does not keep an honest peer out', async (t) => {
  const stack = await startStack(
    t,
    [
      { trackId: 'song', seconds: 40 },
      { trackId: 'other', seconds: 10 },
    ],
    { bitrates: [160] },
  )
  const reference = await stack.reference('song', 160)
  const counted = countingWrtc()
  const seeder = await stack.client({ speed: 0, wrtc: counted.wrtc })
  await drain(seeder.client.play('song', { quality: 160 }).stream)
  await drain(seeder.client.play('other', { quality: 160 }).stream)
  await until(() => seeder.client.stats().network!.swarms === 2, 'the seeder to serve both tracks')
  const made = counted.counter.made

  // Six hostile sockets, each with its own (dead) certificate and a made-up peer id in each of
  // the two swarms: 10 offers per announce, an announce per swarm every 500 ms (under the
  // tracker's own limits, so it relays them all).
  const swarms = await Promise.all(['song', 'other'].map(async (id) => swarmInfoHash(id, (await stack.manifest(id)).version, 160)))
  const sockets = await Promise.all(Array.from({ length: 6 }, () => trackerSocket(t, stack.trackerUrl)))
  const sdps = await Promise.all(sockets.map(() => deadOffer()))
  const ids = sockets.map(() => swarms.map(() => hexId()))
  let sent = 0
  const floodStarted = performance.now()
  const flood = setInterval(() => {
    sockets.forEach((s, i) => {
      swarms.forEach((infoHash, j) => {
        const offers = Array.from({ length: 10 }, () => ({ offer: { type: 'offer', sdp: sdps[i] }, offer_id: hexId() }))
        s.send({ action: 'announce', info_hash: infoHash, peer_id: ids[i]![j], numwant: 10, left: 1_000_000, offers })
        sent++
      })
    })
  }, 500)
  t.teardown(() => clearInterval(flood))
  let mostAnswering = 0
  const watch = setInterval(() => (mostAnswering = Math.max(mostAnswering, seeder.client.stats().network!.answering)), 50)
  t.teardown(() => clearInterval(watch))
  await until(() => seeder.client.stats().network!.offersIgnored + seeder.client.stats().network!.offersQueued > 75, 'more than 75 bogus offers to reach the seeder')

  // An honest listener arrives in the middle of the flood.
  const honest = await stack.client({ speed: 2 })
  const p = honest.client.play('song', { quality: 160 })
  const out = drain(p.stream)
  await until(() => p.stats() !== undefined && p.stats()!.peersConnected > 0, 'the honest listener to connect to the seeder', 30_000)
  t.ok((await out).equals(reference), 'the honest listener plays the track byte for byte')
  t.ok(p.stats()!.bytes.peer > 0, `and gets part of it from the seeder (${p.stats()!.bytes.peer} bytes from peers)`)
  // The flood goes on past the time an answered attempt may take (10 s): what it costs the seeder in all.
  await sleep(Math.max(0, 16_000 - (performance.now() - floodStarted)))
  clearInterval(flood)
  clearInterval(watch)

  const net = seeder.client.stats().network!
  const offers = net.offersAnswered + net.offersQueued + net.offersIgnored
  t.ok(sent >= 300, `${sent} hostile announces of 10 offers each from 12 made-up peer ids`)
  t.ok(offers > 300, `${offers} offers reached the seeder`)
  t.ok(mostAnswering <= 8, `at most 8 answered connections were being set up at once (${mostAnswering})`)
  t.ok(net.offersAnswered <= 20, `it answered ${net.offersAnswered} of them (the honest one among them)`)
  t.ok(counted.counter.made - made <= net.offersAnswered, `and made ${counted.counter.made - made} RTCPeerConnections in all (one per answer)`)
  t.ok(net.offersIgnored > 250, `the rest cost no connection (${net.offersIgnored} ignored)`)
  t.ok(net.connections >= 1, 'the seeder is connected to the honest listener')
})
