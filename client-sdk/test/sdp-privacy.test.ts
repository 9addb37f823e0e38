// What leaves in a description (src/core/sdp.ts), the privacy modes (src/core/privacy.ts) and ids
// from the CSPRNG (src/core/random-id.ts).

import t from 'tap'
import { iceKinds, modeAvailability, modeOptions, parseIceServers, privacyOf, startMode } from '../src/core/privacy.js'
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

t.test("the web player's modes: options, availability, the saved choice, iceServers from config", async (t) => {
  for (const mode of ['direct', 'download-only', 'relay-only', 'off'] as const) {
    const o = modeOptions(mode)
    t.equal(privacyOf({ p2p: o.p2p, uploads: o.upload !== false, relayOnly: o.relayOnly === true, stun: true }).mode, mode, `${mode}: its options make that mode`)
  }
  t.match(modeAvailability({ p2p: true, turn: false }), { direct: true, 'download-only': true, 'relay-only': /no TURN server/, off: true })
  t.match(modeAvailability({ p2p: false, turn: true }), { direct: /no tracker/, 'relay-only': /no tracker/, off: true })
  t.same(modeAvailability({ p2p: true, turn: true })['relay-only'], true)
  t.same(startMode('download-only', { p2p: true, turn: false }), { mode: 'download-only', fellBack: false }, 'a saved choice holds')
  t.same(startMode('relay-only', { p2p: true, turn: false }), { mode: 'direct', fellBack: true }, 'relay-only saved, TURN gone: P2P on, and the page is told')
  t.same(startMode('relay-only', { p2p: true, turn: true }), { mode: 'relay-only', fellBack: false })
  t.same(startMode(null, { p2p: false, turn: false }), { mode: 'off', fellBack: false }, 'no choice, no P2P: off')
  t.same(startMode('bogus', { p2p: true, turn: false }), { mode: 'direct', fellBack: false }, 'a value that is no mode is ignored')
  t.same(parseIceServers('[{"urls":"turn:t.example:3478","username":"u","credential":"p"}]'), [{ urls: 'turn:t.example:3478', username: 'u', credential: 'p' }])
  t.same(parseIceServers([{ urls: ['stun:s.example', 'turns:t.example:5349'] }]), [{ urls: ['stun:s.example', 'turns:t.example:5349'] }])
  for (const bad of ['{', '{}', '[1]', '[{"urls":"http://x"}]', '[{"urls":[]}]', '[{"urls":"turn:x","username":3}]']) t.type(parseIceServers(bad), Error, `refused: ${bad}`)
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
  t.equal(
    randomId((b) => b.fill(1)),
    '01'.repeat(20),
    'the source is injectable',
  )
})
