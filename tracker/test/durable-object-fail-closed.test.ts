// The Durable Object tracker as shipped (tracker/wrangler.toml) fails closed: deployed without the
// origin's public key it refuses every announce, with or without a token, and tells no one about
// any swarm; TRACKER_AUTH = "false" is the only way to an open tracker. Real workerd (Miniflare).

import t from 'tap'
import { announce, announceMessage, isFailure, withTracker } from './helpers/compliance-kit.js'
import { hexId } from './helpers/peer-socket.js'
import { startWorkerdTracker } from './helpers/start-trackers.js'

t.test('without ORIGIN_PUBLIC_KEY every announce is refused, and nobody learns a peer', async (t) => {
  const { peer } = await withTracker(t, startWorkerdTracker, { auth: true })
  const swarm = hexId()
  const holder = await peer()
  holder.send(announceMessage({ infoHash: swarm, peerId: hexId(), left: 0 }))
  t.ok(isFailure(await holder.next(isFailure)), 'an announce without a token is refused')
  const stranger = await peer()
  stranger.send(announceMessage({ infoHash: swarm, peerId: hexId(), left: 100, offers: 2, token: 'any.token.at-all' }))
  const again = await stranger.next(isFailure)
  t.match(String(again['failure reason']), /ORIGIN_PUBLIC_KEY/, 'one with a token is refused too: nothing can check it, and the reason names the missing setting')
  await new Promise((r) => setTimeout(r, 500))
  t.same(
    [...holder.queued, ...stranger.queued].filter((f) => 'offer' in f || 'complete' in f || 'incomplete' in f),
    [],
    'no offer, no peer, no swarm size reached either',
  )
})

t.test('TRACKER_AUTH = "false" opens it on purpose', async (t) => {
  const { peer } = await withTracker(t, startWorkerdTracker, {})
  const reply = await announce(await peer(), { infoHash: hexId(), peerId: hexId(), left: 0 })
  t.notOk(isFailure(reply), 'an announce without a token is answered')
})
