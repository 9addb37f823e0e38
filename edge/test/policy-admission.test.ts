import t from 'tap'
import { createAdmissionFilter } from '../src/policy/index.js'

t.test('admit after 2: the second request admits', async (t) => {
  const filter = createAdmissionFilter({ admitAfter: 2 })
  t.equal(filter.record('track-1/0'), false)
  t.equal(filter.estimate('track-1/0'), 1)
  t.equal(filter.record('track-1/0'), true)
  t.equal(filter.record('track-1/0'), true, 'and stays admitted')
  t.equal(filter.record('track-1/1'), false, 'another key counts on its own')
})

t.test('admit after 1 admits everything at once', async (t) => {
  const filter = createAdmissionFilter({ admitAfter: 1 })
  t.equal(filter.record('a'), true)
})

t.test('admit after 5 needs five requests', async (t) => {
  const filter = createAdmissionFilter({ admitAfter: 5 })
  const answers = Array.from({ length: 6 }, () => filter.record('k'))
  t.same(answers, [false, false, false, false, true, true])
})

t.test('distinct keys are rarely over-counted, within a full window', async (t) => {
  const window = 4096
  const filter = createAdmissionFilter({ admitAfter: 2, window })
  let early = 0
  for (let i = 0; i < window - 1; i++) if (filter.record(`chunk/${i}`)) early++
  t.ok(early / window < 0.05, `${early} of ${window} one-time keys admitted early`)
})

t.test('old counts fade: halved every window', async (t) => {
  const filter = createAdmissionFilter({ admitAfter: 2, window: 100 })
  filter.record('old')
  for (let i = 0; i < 100; i++) filter.record(`other${i}`)
  t.equal(filter.estimate('old'), 0, 'one request, a window ago, is forgotten')
  t.equal(filter.record('old'), false)
  filter.record('warm')
  filter.record('warm')
  filter.record('warm')
  filter.record('warm')
  for (let i = 0; i < 100; i++) filter.record(`more${i}`)
  t.equal(filter.record('warm'), true, 'a popular key keeps part of its count')
})

t.test('counts saturate instead of wrapping', async (t) => {
  const filter = createAdmissionFilter({ admitAfter: 255, window: 1 << 20 })
  for (let i = 0; i < 300; i++) filter.record('x')
  t.equal(filter.estimate('x'), 255)
  t.equal(filter.record('x'), true)
})

t.test('bad options name the option', async (t) => {
  t.throws(() => createAdmissionFilter({ admitAfter: 0 }), { name: 'TypeError', message: /admitAfter/ })
  t.throws(() => createAdmissionFilter({ admitAfter: 1.5 }), { name: 'TypeError', message: /admitAfter/ })
  t.throws(() => createAdmissionFilter({ admitAfter: 256 }), { name: 'TypeError', message: /admitAfter/ })
  t.throws(() => createAdmissionFilter({ admitAfter: 2, window: 0 }), { name: 'TypeError', message: /window/ })
})
