// The Durable Object forgets everything in memory when workerd evicts it (about 10 s without an
// event); the sockets stay connected and the swarms must come back from their attachments.

import t from 'tap'
import { connectPeer, hexId } from './helpers/peer-socket.js'
import type { PeerSocket } from './helpers/peer-socket.js'
import { startWorkerdTracker } from './helpers/start-trackers.js'

async function metrics(httpUrl: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${httpUrl}/metrics`)).text()
  const values: Record<string, number> = {}
  for (const line of text.split('\n')) {
    const match = /^(chorus_tracker_\w+) (\d+)$/.exec(line)
    if (match) values[match[1] as string] = Number(match[2])
  }
  return values
}

t.test('swarms survive eviction of the Durable Object', async (t) => {
  const tracker = await startWorkerdTracker({})
  t.teardown(() => tracker.close())
  const peers: PeerSocket[] = []
  t.teardown(() => Promise.all(peers.map((p) => p.close())))
  const connect = async () => {
    const p = await connectPeer(tracker.wsUrl)
    peers.push(p)
    return p
  }
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
  t.equal(after.chorus_tracker_connections, 2, 'both sockets are still known')
  t.equal(after.chorus_tracker_peers, 2, 'both peers are remembered')

  const newcomer = await connect()
  const newcomerId = hexId()
  newcomer.send({ action: 'announce', info_hash: swarm, peer_id: newcomerId, left: 100, offers: [{ offer: { type: 'offer', sdp: 'v=0 after-wake' }, offer_id: hexId() }] })
  t.match(await newcomer.next((f) => 'interval' in f), { complete: 1, incomplete: 2 })
  const offer = await holder.next((f) => 'offer' in f)
  t.equal(offer.peer_id, newcomerId, 'the remembered holder gets the offer')
  holder.send({ action: 'announce', info_hash: swarm, peer_id: holderId, to_peer_id: newcomerId, offer_id: offer.offer_id, answer: { type: 'answer', sdp: 'v=0 answer' } })
  t.match(await newcomer.next((f) => 'answer' in f), { peer_id: holderId, offer_id: offer.offer_id }, 'and its answer is routed back')
})
