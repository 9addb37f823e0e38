// What leaves in a description (src/core/sdp.ts), the privacy modes (src/core/privacy.ts) and ids
// from the CSPRNG (src/core/random-id.ts).

import t from 'tap'
import { privacyOf, iceKinds } from '../src/core/privacy.js'
import { randomId } from '../src/core/random-id.js'
import { candidates, fingerprint, keepCandidates, saneOffer } from '../src/core/sdp.js'
import { deadOffer } from './hostile-peer.js'

t.test('a real offer: its candidates, what relay-only keeps of it, and whether it is worth an answer', async (t) => {
  const sdp = await deadOffer()
  const all = candidates(sdp)
  t.ok(all.length > 0 && all.every((c) => c.type === 'host'), `${all.length} host candidates`)
  t.ok(saneOffer(sdp))
  t.match(fingerprint(sdp), /^sha-256 [0-9a-f:]+$/)
  const relayed = `${sdp}a=candidate:1 1 udp 41885439 203.0.113.7 3478 typ relay raddr 0.0.0.0 rport 0\r\n`
  const kept = keepCandidates(relayed, ['relay'])
  t.same(candidates(kept), [{ type: 'relay', address: '203.0.113.7' }], 'relay-only keeps the relay candidate alone')
  t.ok(kept.includes('\r\n') && !kept.includes('typ host'))
  t.notOk(saneOffer(keepCandidates(sdp, ['relay'])), 'an offer without a candidate is not worth an answer')
  t.notOk(saneOffer('v=0'))
  t.notOk(saneOffer(42))
})

t.test('privacy modes from options', async (t) => {
  t.equal(privacyOf({ p2p: false, uploads: true, relayOnly: true, stun: true }).mode, 'off')
  t.equal(privacyOf({ p2p: true, uploads: false, relayOnly: false, stun: false }).mode, 'download-only')
  t.same(privacyOf({ p2p: true, uploads: true, relayOnly: true, stun: true }).candidates, ['relay'])
  t.same(privacyOf({ p2p: true, uploads: true, relayOnly: false, stun: true }), { mode: 'direct', p2p: true, uploads: true, relayOnly: false, candidates: ['host', 'srflx', 'relay'] })
  t.same(iceKinds([{ urls: ['stun:a', 'turns:b'] }]), { turn: true, stun: true })
  t.same(iceKinds([{ urls: 'stun:a' }]), { turn: false, stun: true })
})

t.test('ids come from the CSPRNG, not Math.random', async (t) => {
  const random = Math.random
  Math.random = () => 0.5
  try {
    const ids = new Set(Array.from({ length: 100 }, () => randomId()))
    t.equal(ids.size, 100, 'a constant Math.random does not make them repeat')
  } finally {
    Math.random = random
  }
  t.match(randomId(), /^[0-9a-f]{40}$/)
  t.equal(randomId((b) => b.fill(1)), '01'.repeat(20), 'the source is injectable')
})
