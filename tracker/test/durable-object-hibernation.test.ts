// The Durable Object forgets everything in memory when workerd evicts it (about 10 s without an
// event); the sockets stay connected and the swarms must come back from their attachments.

import t from 'tap'
import { connectPeer, freshAddress, hexId } from './helpers/peer-socket.js'
import type { PeerSocket } from './helpers/peer-socket.js'
import { startWorkerdTracker } from './helpers/start-trackers.js'

async function metrics(httpUrl: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${httpUrl}/metrics`)).text()
  const values: Record<string, number> = {}
  for (const line of text.split('\n')) {
    const match = /^(chorus_tracker_\w+(?:\{[^}]*\})?) (\d+)$/.exec(line)
    if (match) values[match[1] as string] = Number(match[2])
  }
  return values
}

t.test('swarms and peer limits survive eviction of the Durable Object', async (t) => {
  // Addresses count (no loopback exemption): without auth the peer limit is per address.
  const tracker = await startWorkerdTracker({ exemptLoopback: false, maxPeersLearnedPerHour: 2 })
  t.teardown(() => tracker.close())
  const peers: PeerSocket[] = []
  t.teardown(() => Promise.all(peers.map((p) => p.close())))
  const connect = async (from = freshAddress()) => {
    const p = await connectPeer(tracker.wsUrl, { from })
    peers.push(p)
    return p
  }
  const offerOf = (sdp: string) => [{ offer: { type: 'offer', sdp }, offer_id: hexId() }]
  // A collector meets its 2 peers (the limit) before the eviction...
  const collectorAddress = freshAddress()
  const collector = await connect(collectorAddress)
  const others = [hexId(), hexId(), hexId()]
  const otherHolders: PeerSocket[] = []
  for (const swarm of others) {
    const h = await connect()
    h.send({ action: 'announce', info_hash: swarm, peer_id: hexId(), left: 0 })
    await h.next((f) => 'interval' in f)
    otherHolders.push(h)
  }
  for (const swarm of others.slice(0, 2)) {
    collector.send({ action: 'announce', info_hash: swarm, peer_id: hexId(), left: 9, offers: offerOf('v=0 collect') })
    await collector.next((f) => 'interval' in f)
  }
  await otherHolders[1]?.next((f) => 'offer' in f)
  const swarm = hexId()
  const holder = await connect()
  const holderId = hexId()
  holder.send({ action: 'announce', info_hash: swarm, peer_id: holderId, left: 0, event: 'started' })
  await holder.next((f) => 'interval' in f)
  const seeker = await connect()
  seeker.send({ action: 'announce', info_hash: swarm, peer_id: hexId(), left: 100, event: 'started' })
  t.match(await seeker.next((f) => 'interval' in f), { complete: 1, incomplete: 1 })

  // Stay silent until the object is evicted: its in-memory counters start again from zero.
  let evicted = false
  for (let round = 0; round < 4 && !evicted; round++) {
    await new Promise((r) => setTimeout(r, 11_000))
    evicted = (await metrics(tracker.httpUrl)).chorus_tracker_announces_total === 0
  }
  t.ok(evicted, 'workerd evicted the object')
  const after = await metrics(tracker.httpUrl)
  t.equal(after.chorus_tracker_connections, 6, 'every socket is still known')
  t.equal(after.chorus_tracker_peers, 7, 'every peer is remembered')
  t.equal(after.chorus_tracker_listeners_at_limit, 1, 'and so is the collector at its limit (from storage)')

  // ...and after it, from a new socket on its address, meets nobody new.
  const back = await connect(collectorAddress)
  back.send({ action: 'announce', info_hash: others[2], peer_id: hexId(), left: 9, offers: offerOf('v=0 collect') })
  await back.next((f) => 'interval' in f)
  t.match(await back.next((f) => 'warning message' in f), { warning_code: 'peer_limit' }, 'the limit held across the eviction')
  // Everything sent to the third holder before its scrape reply has arrived by then.
  const third = otherHolders[2] as PeerSocket
  third.send({ action: 'scrape', info_hash: others[2] })
  await third.next((f) => f.action === 'scrape')
  t.notOk(
    third.queued.some((f) => 'offer' in f),
    'the third holder got no offer',
  )

  const newcomer = await connect()
  const newcomerId = hexId()
  newcomer.send({ action: 'announce', info_hash: swarm, peer_id: newcomerId, left: 100, offers: [{ offer: { type: 'offer', sdp: 'v=0 after-wake' }, offer_id: hexId() }] })
  t.match(await newcomer.next((f) => 'interval' in f), { complete: 1, incomplete: 2 })
  const offer = await holder.next((f) => 'offer' in f)
  t.equal(offer.peer_id, newcomerId, 'the remembered holder gets the offer')
  holder.send({ action: 'announce', info_hash: swarm, peer_id: holderId, to_peer_id: newcomerId, offer_id: offer.offer_id, answer: { type: 'answer', sdp: 'v=0 answer' } })
  t.match(await newcomer.next((f) => 'answer' in f), { peer_id: holderId, offer_id: offer.offer_id }, 'and its answer is routed back')
})
