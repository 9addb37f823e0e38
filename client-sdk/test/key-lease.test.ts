import t from 'tap'
import { decodeLease, encodeLease, keysToRenew, leaseKey } from '../src/core/key-lease.js'

// A key lease, under an injected wall clock: held until it runs out, then gone; anything that is
// not a lease reads as none.
const KEY = 'AAECAwQFBgcICQoLDA0ODw'

t.test('a lease reads back while it runs and not after', async (t) => {
  const lease = leaseKey(KEY, 1_000, 60_000)
  t.same(lease, { key: KEY, expiresAt: 61_000 })
  const bytes = encodeLease(lease)
  t.same(decodeLease(bytes, 60_999), lease)
  t.equal(decodeLease(bytes, 61_000), undefined, 'run out at its expiry')
  t.equal(decodeLease(encodeLease(leaseKey(KEY, 1_000, 0)), 1_000), undefined, 'a lease of 0 is never held')
})

t.test('anything else is no lease', async (t) => {
  for (const text of ['', 'nope', '{}', '{"key":"short","expiresAt":9e15}', `{"key":"${KEY}"}`, `{"key":"${KEY}","expiresAt":"9e15"}`]) {
    t.equal(decodeLease(new TextEncoder().encode(text), 0), undefined, JSON.stringify(text))
  }
})

t.test('the keys renewed: the tracks used last first, those held skipped, at most the limit', async (t) => {
  const recent = ['d', 'c', 'b', 'a', 'c']
  t.same(
    keysToRenew(recent, 2, () => false),
    ['d', 'c'],
  )
  t.same(
    keysToRenew(recent, 10, (id) => id === 'c'),
    ['d', 'b', 'a'],
    'a held key is not asked again; each track once',
  )
  t.same(
    keysToRenew(recent, 0, () => false),
    [],
    'a limit of 0: none',
  )
  t.same(
    keysToRenew([], 5, () => false),
    [],
  )
})
