// The offer admission core (src/core/offer-admission.ts), under a fake clock.

import t from 'tap'
import { DEFAULT_OFFER_ADMISSION, createOfferAdmission } from '../src/core/offer-admission.js'

const offer = (remote: string, extra: Partial<{ swarm: string; fingerprint: string; useful: boolean; sane: boolean; peerSetSize: number }> = {}) => ({
  swarm: 's1',
  remote,
  fingerprint: `fp-${remote}`,
  peerSetSize: 0,
  useful: true,
  sane: true,
  payload: remote,
  ...extra,
})

t.test('bounded: pending per swarm and in all, rate, one attempt per remote', async (t) => {
  const a = createOfferAdmission<string>({ ...DEFAULT_OFFER_ADMISSION, maxPending: 3, maxPendingPerSwarm: 2, burst: 10 })
  t.match(a.consider(offer('a'), 0), { type: 'answer' })
  t.same(a.consider(offer('a'), 0), { type: 'ignored', reason: 'pending' }, 'one attempt per remote and swarm')
  t.match(a.consider(offer('b'), 0), { type: 'answer' })
  t.same(a.consider(offer('c'), 0), { type: 'queued' }, 'the swarm has its 2')
  t.match(a.consider(offer('c', { swarm: 's2' }), 0), { type: 'answer' })
  t.same(a.consider(offer('d', { swarm: 's3' }), 0), { type: 'queued' }, '3 in all')
  t.same(a.consider(offer('e', { useful: false }), 0), { type: 'ignored', reason: 'useless' })
  t.same(a.consider(offer('f', { sane: false }), 0), { type: 'ignored', reason: 'insane' })
  t.equal(a.pending, 3)

  const r = createOfferAdmission<string>({ ...DEFAULT_OFFER_ADMISSION, maxPending: 100, maxPendingPerSwarm: 100, burst: 2, ratePerSec: 1 })
  t.match(r.consider(offer('a'), 0), { type: 'answer' })
  t.match(r.consider(offer('b'), 0), { type: 'answer' })
  t.same(r.consider(offer('c'), 0), { type: 'queued' }, 'the burst is spent')
  t.equal(r.retryInMs(0), 1000)
  t.same(
    r.next(1000, () => true).map((c) => c.remote),
    ['c'],
    'a second later it is answered',
  )
})

t.test('failures back off by remote and by certificate; a flood cannot hold the places', async (t) => {
  const a = createOfferAdmission<string>({ ...DEFAULT_OFFER_ADMISSION, maxPending: 2, maxPendingPerSwarm: 2, burst: 100, ratePerSec: 100 })
  const d1 = a.consider(offer('x1', { fingerprint: 'evil' }), 0)
  const d2 = a.consider(offer('x2', { fingerprint: 'evil' }), 0)
  t.match(d1, { type: 'answer' })
  t.match(d2, { type: 'answer' })
  // Full, and the attempts are young: the honest offer waits.
  t.same(a.consider(offer('honest'), 1000), { type: 'queued' })
  // Old enough (3 s) and not connected: the honest offer takes the oldest one's place.
  const d3 = a.consider(offer('honest'), 3500)
  t.match(d3, { type: 'answer', replaces: (d1 as { id: number }).id })
  // The certificate failed: made-up peer ids reusing it are not answered.
  t.same(a.consider(offer('x3', { fingerprint: 'evil' }), 3600), { type: 'ignored', reason: 'backoff' })
  a.settled((d3 as { id: number }).id, true, 3700)
  a.settled((d2 as { id: number }).id, false, 10_000)
  t.same(a.consider(offer('x2', { fingerprint: 'other' }), 20_000), { type: 'ignored', reason: 'backoff' }, 'the remote too, for 30 s')
  t.match(a.consider(offer('x2', { fingerprint: 'other' }), 40_001), { type: 'answer' }, 'then it may try again')
  // A failed remote never takes the place of another attempt.
  a.consider(offer('y'), 40_002)
  t.same(a.consider(offer('x1', { fingerprint: 'new' }), 50_000), { type: 'queued' }, 'x1 failed before: it waits instead')
  t.match(a.stats(), { answered: 5, connected: 1, failed: 2 })
})

t.test('the queue: newest offer per remote, best first, stale ones dropped', async (t) => {
  const a = createOfferAdmission<string>({ ...DEFAULT_OFFER_ADMISSION, maxPending: 1, maxPendingPerSwarm: 1, burst: 100, ratePerSec: 100, maxAgeMs: 5000 })
  const first = a.consider(offer('busy'), 0)
  a.consider(offer('old'), 0)
  a.consider(offer('crowded', { peerSetSize: 5 }), 1000)
  a.consider(offer('lonely', { peerSetSize: 0 }), 1000)
  a.settled((first as { id: number }).id, true, 5500)
  t.same(
    a.next(5500, () => true).map((c) => c.remote),
    ['lonely'],
    'the stale offer is gone; the swarm with fewer peers goes first',
  )
})

t.test('a waiting offer never seen failing takes the place of an attempt that had its time', async (t) => {
  const a = createOfferAdmission<string>({ ...DEFAULT_OFFER_ADMISSION, maxPending: 1, maxPendingPerSwarm: 1, burst: 100, ratePerSec: 100 })
  const stuck = a.consider(offer('stuck'), 0)
  t.same(a.consider(offer('honest'), 1000), { type: 'queued' }, 'too early to replace it')
  t.equal(a.retryInMs(1000), 2000, 'worth a look when the attempt has had 3 s')
  const [next] = a.next(3000, () => true)
  t.match(next, { remote: 'honest', replaces: (stuck as { id: number }).id })
  t.same(a.consider(offer('other', { fingerprint: 'fp-stuck' }), 3001), { type: 'ignored', reason: 'backoff' }, 'the replaced attempt counts as failed')
})
