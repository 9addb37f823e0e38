// Two real WebRTC peers (@roamhq/wrtc through simple-peer, trickle off) find each other through
// the tracker: the offer is relayed to the holder, its answer back, and a data channel opens.

import wrtc from '@roamhq/wrtc'
import SimplePeer from 'simple-peer'
import t from 'tap'
import type { Test } from 'tap'
import { WebSocket } from 'ws'
import type { TrackerReply } from '../../protocol/index.js'
import { createTrackerClient } from '../../client-sdk/index.js'
import type { TrackerClient, WebSocketConstructor } from '../../client-sdk/index.js'
import { hexId } from './helpers/peer-socket.js'
import type { StartTracker } from './helpers/start-trackers.js'
import { startNodeTracker, startWorkerdTracker } from './helpers/start-trackers.js'

/** A tracker client whose replies can be awaited one by one. */
async function connectClient(t: Test, url: string, onRelay: (reply: TrackerReply) => void): Promise<{ client: TrackerClient; reply: () => Promise<TrackerReply> }> {
  const waiting: Array<(reply: TrackerReply) => void> = []
  const client = await new Promise<TrackerClient>((resolve) => {
    const c: TrackerClient = createTrackerClient({
      url,
      WebSocket: WebSocket as unknown as WebSocketConstructor,
      onOpen: () => resolve(c),
      onMessage: (reply) => ('offer' in reply || 'answer' in reply ? onRelay(reply) : waiting.shift()?.(reply)),
    })
  })
  t.teardown(() => client.close())
  return { client, reply: () => new Promise((resolve) => waiting.push(resolve)) }
}

function signal(peer: SimplePeer.Instance): Promise<SimplePeer.SignalData> {
  return new Promise((resolve) => peer.once('signal', resolve))
}

async function meetThroughTracker(t: Test, start: StartTracker): Promise<void> {
  const tracker = await start({})
  t.teardown(() => tracker.close())
  const infoHash = hexId()
  const holderId = hexId()
  const seekerId = hexId()
  const peers: SimplePeer.Instance[] = []
  t.teardown(() => {
    for (const p of peers) p.destroy()
  })

  // The holder answers whatever offer the tracker relays to it, and echoes what it is sent.
  let gotData!: (text: string) => void
  const holderGotData = new Promise<string>((resolve) => (gotData = resolve))
  const holder = await connectClient(t, tracker.wsUrl, (relay) => {
    if (!('offer' in relay)) return
    const peer = new SimplePeer({ initiator: false, trickle: false, wrtc })
    peers.push(peer)
    peer.on('data', (data: Uint8Array) => {
      gotData(Buffer.from(data).toString())
      peer.send('hello back')
    })
    void signal(peer).then((answer) => {
      holder.client.send({ action: 'announce', info_hash: infoHash, peer_id: holderId, to_peer_id: relay.peer_id, offer_id: relay.offer_id, answer: answer as { type: 'answer'; sdp: string } })
    })
    peer.signal(relay.offer as SimplePeer.SignalData)
  })
  holder.client.send({ action: 'announce', info_hash: infoHash, peer_id: holderId, left: 0, event: 'started' })
  t.match(await holder.reply(), { complete: 1 })

  const seekerPeer = new SimplePeer({ initiator: true, trickle: false, wrtc })
  peers.push(seekerPeer)
  const offer = await signal(seekerPeer)
  const offerId = hexId()
  const seeker = await connectClient(t, tracker.wsUrl, (relay) => {
    if ('answer' in relay && relay.offer_id === offerId && relay.peer_id === holderId) seekerPeer.signal(relay.answer as SimplePeer.SignalData)
  })
  seeker.client.send({ action: 'announce', info_hash: infoHash, peer_id: seekerId, left: 1000, event: 'started', offers: [{ offer: offer as { type: 'offer'; sdp: string }, offer_id: offerId }] })
  t.match(await seeker.reply(), { complete: 1, incomplete: 1 })
  await new Promise<void>((resolve) => seekerPeer.once('connect', resolve))
  const back = new Promise<string>((resolve) => seekerPeer.once('data', (d: Uint8Array) => resolve(Buffer.from(d).toString())))
  seekerPeer.send('hello from the seeker')
  t.equal(await holderGotData, 'hello from the seeker')
  t.equal(await back, 'hello back')
}

t.test('through the ws server', (t) => meetThroughTracker(t, startNodeTracker))
t.test('through the Durable Object in workerd', (t) => meetThroughTracker(t, startWorkerdTracker))
