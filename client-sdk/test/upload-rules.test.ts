// The upload cores (src/core/upload-budget.ts, src/core/upload-admission.ts), under a fake clock.

import t from 'tap'
import { DEFAULT_RATIO_CHOKE, chokeForRatio, createUploadAdmission, unchokeAfterRatio } from '../src/core/upload-admission.js'
import { createUploadBudget } from '../src/core/upload-budget.js'

const MIN = 60_000

t.test('the budget: allowance + ratio x download over the window, sliding', async (t) => {
  const b = createUploadBudget({ ratio: 2, windowMs: 10 * MIN, allowanceBytes: 1000 })
  t.equal(b.available(0), 1000, 'the allowance before any download')
  b.downloaded(500, 0)
  t.equal(b.available(0), 2000)
  t.ok(b.reserve(1500, 0))
  t.notOk(b.reserve(600, 0), 'reservations count against it')
  b.settle(1500, 1500, MIN)
  t.equal(b.available(MIN), 500)
  b.settle(0, 0, MIN)
  t.equal(b.available(10 * MIN + 1), 0, 'the download left the window at 10 min, the upload (1500 > the allowance) not yet')
  t.equal(b.available(11 * MIN + 1), 1000, 'then both left it')
  const free = createUploadBudget({ ratio: Number.POSITIVE_INFINITY, windowMs: MIN, allowanceBytes: 0 })
  t.equal(free.available(0), Number.POSITIVE_INFINITY)
})

t.test('admission: per-peer cap, slots, ratio, cancel, and a flood is a violation', async (t) => {
  const budget = createUploadBudget({ ratio: 1, windowMs: 10 * MIN, allowanceBytes: 10 * 100 })
  const a = createUploadAdmission({ slots: 2, perPeer: 3, maxAbuse: 5 }, budget)
  const ctx = { uploads: true, emergency: false, holds: true, length: 100, now: 0 }
  for (let i = 0; i < 3; i++) t.same(a.request('p', i, ctx), { type: 'queued' })
  t.same(a.request('p', 3, ctx), { type: 'refused', reason: 'per_peer' }, 'past the per-peer cap')
  t.same(a.request('p', 1, ctx), { type: 'duplicate' })
  t.same(a.request('q', 0, ctx), { type: 'queued' })
  t.same(a.request('r', 0, ctx), { type: 'refused', reason: 'slots' }, 'two peers served at once')
  t.same(a.request('q', 1, { ...ctx, holds: false }), { type: 'refused', reason: 'not_held' })
  t.same(a.request('q', 1, { ...ctx, uploads: false }), { type: 'refused', reason: 'download_only' })
  t.same(a.request('q', 1, { ...ctx, emergency: true }), { type: 'refused', reason: 'emergency' })

  t.same(a.next('p'), { index: 0, length: 100 }, 'one chunk at a time per peer, in order')
  t.equal(a.next('p'), undefined)
  t.same(a.cancel('p', 2, 0), { type: 'dropped' }, 'a queued chunk is taken out')
  t.same(a.cancel('p', 0, 0), { type: 'abort' }, 'the one being sent is stopped')
  a.finished('p', 0, 40, 0)
  t.equal(a.outstanding('p'), 1)
  t.same(budget.window(0), { downloaded: 0, uploaded: 40 }, 'only what went out is counted')

  // The budget: 1000 in all, 40 spent, q's 100 and p's 100 reserved: 760 more, 7 chunks.
  const b2 = createUploadAdmission({ slots: 10, perPeer: 100, maxAbuse: 1000 }, budget)
  let queued = 0
  for (let i = 0; i < 20; i++) if (b2.request('s', i, ctx).type === 'queued') queued++
  t.equal(queued, 7, 'the ratio rule caps what is accepted')
  t.equal(b2.refused().ratio, 13)

  // 3 past the cap and 3 repeats: the sixth abuse breaks the protocol.
  const f = createUploadAdmission({ slots: 4, perPeer: 2, maxAbuse: 5 }, createUploadBudget({ ratio: 2, windowMs: MIN, allowanceBytes: 1e9 }))
  const out = Array.from({ length: 10 }, (_, i) => f.request('x', i % 4, ctx).type)
  t.same(out, ['queued', 'queued', 'refused', 'refused', 'duplicate', 'duplicate', 'refused', 'violation', 'violation', 'violation'])
})

t.test('a peer refused for the ratio rule is choked, at most once a second, until 256 KiB may go up again', async (t) => {
  t.ok(chokeForRatio(undefined, 5000), 'not choked yet')
  t.notOk(chokeForRatio(5000, 5999), 'choked a moment ago')
  t.ok(chokeForRatio(5000, 6000))
  t.equal(DEFAULT_RATIO_CHOKE.checkMs, 2000)
  t.notOk(unchokeAfterRatio({ emergency: false, available: 256 * 1024 - 1 }))
  t.ok(unchokeAfterRatio({ emergency: false, available: 256 * 1024 }))
  t.notOk(unchokeAfterRatio({ emergency: true, available: 1e9 }), 'an emergency holds every upload')
})
