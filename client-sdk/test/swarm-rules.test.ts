// What the network does around the connection core (src/core/swarm-rules.ts), values in and out:
// the caps, offers given up, when a swarm announces again, the pause after peer_limit, and which
// relayed offers are worth answering.

import t from 'tap'
import { DEFAULT_SWARM_RULES, announceInterval, answerUseful, nextAnnounce, offerExpired, offerOnReply, offerRoom, peerLimitPausedUntil, underHardCap } from '../src/core/swarm-rules.js'

t.test('50 connections, 60 counting those being set up', async (t) => {
  t.equal(offerRoom({ open: 0, connecting: 0 }), 50)
  t.equal(offerRoom({ open: 45, connecting: 0 }), 5, 'up to the soft cap')
  t.equal(offerRoom({ open: 45, connecting: 12 }), 3, 'and the hard cap counts those being set up')
  t.equal(offerRoom({ open: 55, connecting: 0 }), 0, 'never below 0')
  t.ok(underHardCap({ open: 59, connecting: 0 }))
  t.notOk(underHardCap({ open: 50, connecting: 10 }), 'an offer is not answered at the hard cap')
  t.notOk(underHardCap({ open: 60, connecting: 0 }), 'nor a connection kept')
  t.equal(offerRoom({ open: 1, connecting: 0 }, { maxConnections: 4, hardMaxConnections: 5 }), 3)
})

t.test('an offer unanswered for 10 s is given up', async (t) => {
  t.notOk(offerExpired(1000, 11_000))
  t.ok(offerExpired(1000, 11_001))
  t.ok(offerExpired(0, 100, { offerTtlMs: 50 }))
})

t.test('the first reply, with someone there, makes a fetching swarm offer at once', async (t) => {
  t.ok(offerOnReply({ first: true, others: 2, left: 1 }))
  t.notOk(offerOnReply({ first: false, others: 2, left: 1 }), 'later replies wait for the announce timer')
  t.notOk(offerOnReply({ first: true, others: 0, left: 1 }), 'nobody there')
  t.notOk(offerOnReply({ first: true, others: undefined, left: 1 }))
  t.notOk(offerOnReply({ first: true, others: 2, left: 0 }), 'a holder waits for offers')
})

t.test('announce intervals: the tracker within 5-120 s; a swarm short of peers sooner, backing off', async (t) => {
  t.equal(announceInterval(1), 5)
  t.equal(announceInterval(60), 60)
  t.equal(announceInterval(600), 120)
  const rules = { ...DEFAULT_SWARM_RULES, enoughPeers: 2 }
  const short = { left: 1000, usefulPeers: () => 0, peers: 0, others: 3, lonely: 0, intervalSec: 120 }
  const middle = () => 0.5
  const waits: number[] = []
  let lonely = 0
  for (let i = 0; i < 7; i++) {
    const n = nextAnnounce({ ...short, lonely }, middle, rules)
    waits.push(n.waitSec)
    lonely = n.lonely
  }
  t.same(waits, [5, 10, 20, 40, 80, 80, 80], '5 s, doubling up to 80 s')
  t.equal(lonely, 7)
  t.equal(nextAnnounce({ ...short, lonely: 0 }, () => 0, rules).waitSec, 4, '-20 %')
  t.equal(nextAnnounce({ ...short, lonely: 0 }, () => 0.999999, rules).waitSec.toFixed(3), '6.000', '+20 %')
  t.equal(nextAnnounce({ ...short, lonely: 4, intervalSec: 30 }, middle, rules).waitSec, 30, 'never later than the interval')
  let draws = 0
  const counting = () => {
    draws++
    return 0.5
  }
  t.same(nextAnnounce({ ...short, usefulPeers: () => 2 }, counting, rules), { waitSec: 120, lonely: 0 }, 'covered: the interval, and the count starts again')
  const uncounted = () => {
    throw new Error('a holder needs no count of its peers')
  }
  t.same(nextAnnounce({ ...short, left: 0, usefulPeers: uncounted }, counting, rules), { waitSec: 120, lonely: 0 }, 'a holder waits at the interval')
  t.same(nextAnnounce({ ...short, others: 1, peers: 1 }, counting, rules), { waitSec: 120, lonely: 0 }, 'everyone there is connected already')
  t.equal(draws, 0, 'no jitter drawn when it is not used')
  t.equal(nextAnnounce({ ...short, others: undefined }, middle, rules).waitSec, 5, 'before any reply, as short of peers')
})

t.test('no offers for 5 minutes after peer_limit', async (t) => {
  t.equal(peerLimitPausedUntil(1000), 1000 + 5 * 60_000)
  t.equal(peerLimitPausedUntil(0, { peerLimitPauseMs: 10 }), 10)
})

t.test('an offer is worth answering where this listener fetches, or serves what it holds with room for peers', async (t) => {
  t.ok(answerUseful({ left: 1, uploads: false, peers: 50, holdsChunks: false }))
  t.ok(answerUseful({ left: 0, uploads: true, peers: 3, holdsChunks: true }))
  t.notOk(answerUseful({ left: 0, uploads: false, peers: 3, holdsChunks: true }), 'download-only serves nobody')
  t.notOk(answerUseful({ left: 0, uploads: true, peers: 3, holdsChunks: false }), 'nothing to serve')
  t.notOk(answerUseful({ left: 0, uploads: true, peers: 50, holdsChunks: true }), 'enough peers there')
})
