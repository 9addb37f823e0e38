import t from 'tap'
import { etagMatches, parseRange } from '../index.js'

t.test('single ranges', async (t) => {
  t.same(parseRange(undefined, 100), { kind: 'none' })
  t.same(parseRange('bytes=0-9', 100), { kind: 'partial', start: 0, end: 9 })
  t.same(parseRange('bytes=90-', 100), { kind: 'partial', start: 90, end: 99 })
  t.same(parseRange('bytes=-10', 100), { kind: 'partial', start: 90, end: 99 })
  t.same(parseRange('bytes=-1000', 100), { kind: 'partial', start: 0, end: 99 })
  t.same(parseRange('bytes=50-5000', 100), { kind: 'partial', start: 50, end: 99 })
})

t.test('unsatisfiable and malformed ranges', async (t) => {
  for (const h of ['bytes=100-', 'bytes=5-1', 'bytes=-0', 'bytes=-', 'items=0-1', 'bytes=0-1,5-6', 'bytes=a-b', 'bytes=1.5-2']) {
    t.equal(parseRange(h, 100).kind, 'unsatisfiable', h)
  }
})

t.test('If-None-Match', async (t) => {
  t.ok(etagMatches('"abc"', '"abc"'))
  t.ok(etagMatches('"x", W/"abc"', '"abc"'))
  t.ok(etagMatches('*', '"abc"'))
  t.notOk(etagMatches('"abd"', '"abc"'))
  t.notOk(etagMatches(null, '"abc"'))
})
