// The connection rules (src/core/peer-connections.ts), values in and out under a fake clock:
// when a swarm gets offers (new RTCPeerConnections), the client's offer budget, and when a
// connection is idle.

import t from 'tap'
import { DEFAULT_CONNECTION_RULES, type OfferSituation, announceOnLinks, coversSwarm, createOfferBudget, idleConnection, idleSweepMs, offersToMake } from '../src/core/peer-connections.js'

const seeking: OfferSituation = { now: 10_000, left: 1000, others: 5, peers: 0, usefulPeers: 0, pending: 0, room: 50, paused: false, askedUntil: 0, budget: 3 }

t.test('offers only when the connected peers do not cover the swarm, and few', async (t) => {
  t.same(offersToMake(seeking), { offers: 1, reason: 'offer' }, 'by default one offer for a swarm nobody on the links covers')
  t.same(offersToMake({ ...seeking, peers: 1, usefulPeers: 1 }), { offers: 1, reason: 'offer' }, 'one more while one peer covers it')
  t.same(offersToMake({ ...seeking, peers: 2, usefulPeers: 2 }), { offers: 0, reason: 'covered' }, 'two are enough by default')
  const two = { ...DEFAULT_CONNECTION_RULES, enoughPeers: 2, maxOffersPerAnnounce: 2 }
  t.same(offersToMake(seeking, two), { offers: 2, reason: 'offer' })
  t.same(offersToMake({ ...seeking, left: 0 }, two), { offers: 0, reason: 'holder' }, 'holders wait for offers')
  t.same(offersToMake({ ...seeking, others: 0 }, two), { offers: 0, reason: 'alone' }, 'nobody to answer')
  t.same(offersToMake({ ...seeking, others: 2, peers: 2, usefulPeers: 1 }, two), { offers: 0, reason: 'alone' }, 'everyone there is on a link already')
  t.same(offersToMake({ ...seeking, peers: 2, usefulPeers: 2 }, two), { offers: 0, reason: 'covered' })
  t.same(offersToMake({ ...seeking, peers: 3, usefulPeers: 1 }, two), { offers: 1, reason: 'offer' }, 'one more when one covers it')
  t.same(offersToMake({ ...seeking, askedUntil: 11_000 }, two), { offers: 0, reason: 'asking', retryAt: 11_000 }, 'the peers asked over their links answer first')
  t.same(offersToMake({ ...seeking, pending: 2 }, two), { offers: 0, reason: 'pending' }, 'unanswered offers count')
  t.same(offersToMake({ ...seeking, room: 0 }, two), { offers: 0, reason: 'full' })
  t.same(offersToMake({ ...seeking, budget: 0.9 }, two), { offers: 0, reason: 'budget' })
  t.same(offersToMake({ ...seeking, paused: true }, two), { offers: 0, reason: 'paused' })
})

t.test('one offer budget for the client', async (t) => {
  const b = createOfferBudget({ offerBurst: 3, offersPerMinute: 1.5 })
  t.equal(b.available(0), 3)
  b.spend(3, 0)
  t.equal(b.available(0), 0)
  t.equal(b.available(39_000), 0, 'refilled at 1.5 a minute')
  t.equal(b.available(40_000), 1)
  t.equal(b.available(10 * 60_000), 3, 'up to the burst')
})

t.test('a connection is idle when it carries nothing this listener fetches and moved nothing for idleMs', async (t) => {
  const idleMs = DEFAULT_CONNECTION_RULES.idleMs
  t.notOk(idleConnection({ fetching: 1, lastActivity: 0 }, 10 * idleMs), 'a swarm being fetched keeps it')
  t.notOk(idleConnection({ fetching: 0, lastActivity: 1000 }, 1000 + idleMs - 1))
  t.ok(idleConnection({ fetching: 0, lastActivity: 1000 }, 1000 + idleMs))
  t.equal(idleSweepMs(), 10_000, 'looked for every 10 s by default')
  t.equal(idleSweepMs({ idleMs: 8_000 }), 2_000, 'a quarter of a short idle time')
  t.equal(idleSweepMs({ idleMs: 100 }), 1_000, 'at most every second')
})

t.test('a listener tells its links of the swarms it fetches, not of those it seeds', async (t) => {
  t.ok(announceOnLinks({ left: 1, refused: false, closed: false }))
  t.notOk(announceOnLinks({ left: 0, refused: false, closed: false }))
  t.notOk(announceOnLinks({ left: 1, refused: true, closed: false }))
})

t.test('a peer covers a swarm when it holds at least half of what this listener lacks', async (t) => {
  t.ok(coversSwarm({ has: 50, lacking: 100 }))
  t.notOk(coversSwarm({ has: 49, lacking: 100 }), 'a few chunks are not enough')
  t.notOk(coversSwarm({ has: 0, lacking: 0 }), 'nothing to give')
  t.ok(coversSwarm({ has: 1, lacking: 1 }))
})
