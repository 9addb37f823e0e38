// The tracker client's pacing (src/core/message-pacing.ts), values in and out: at most 15
// messages in any 1.3 s, in order.

import t from 'tap'
import { DEFAULT_TRACKER_PACING, createMessagePacer } from '../src/core/message-pacing.js'

t.test('15 at once, then each a window after the one 15 before it', async (t) => {
  t.same(DEFAULT_TRACKER_PACING, { maxMessages: 15, windowMs: 1300 })
  const p = createMessagePacer()
  for (let i = 0; i < 15; i++) {
    t.equal(p.nextAt(100), 100)
    p.sent(100)
  }
  t.equal(p.nextAt(100), 1400, 'the 16th waits for the window')
  t.equal(p.nextAt(2000), 2000, 'and goes at once later')
  // A queue drained by the core's times: departures never go back in time and never crowd the window.
  const q = createMessagePacer({ maxMessages: 3, windowMs: 1000 })
  const times: number[] = []
  for (let i = 0; i < 8; i++) {
    const at = q.nextAt(0)
    q.sent(at)
    times.push(at)
  }
  t.same(times, [0, 0, 0, 1000, 1000, 1000, 2000, 2000])
  q.reset()
  t.equal(q.nextAt(5), 5, 'a new socket starts afresh')
})
