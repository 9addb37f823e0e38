// The security rules of issue 15 in the pure core, with an injected clock: floods do not grow
// state past its caps, bans and token expiry run on time, and what a Durable Object saves keeps them.

import { deserialize, serialize } from 'node:v8'
import t from 'tap'
import { addressKey } from '../src/core/address.js'
import { createBanList } from '../src/core/bans.js'
import type { TrackerCore, TrackerCoreOptions, TrackerEffect } from '../src/core/tracker-core.js'
import { createTrackerCore } from '../src/core/tracker-core.js'
import { seeded } from './helpers/fuzz.js'
import { binaryId } from './helpers/peer-socket.js'

function harness(options: TrackerCoreOptions = {}) {
  let clock = 1_000_000
  const core = createTrackerCore({ now: () => clock, random: seeded(7), ...options })
  return { core, advance: (ms: number) => (clock += ms), now: () => clock }
}

const sent = (effects: TrackerEffect[], socket?: number) =>
  effects.flatMap((e) => (e.type === 'send' && (socket === undefined || e.socket === socket) ? [JSON.parse(e.data) as Record<string, unknown>] : []))
const closes = (effects: TrackerEffect[]) => effects.filter((e) => e.type === 'close')
const announce = (core: TrackerCore, socket: number, fields: Record<string, unknown>) => core.message(socket, JSON.stringify({ action: 'announce', ...fields }))
const offer = () => ({ offer: { type: 'offer', sdp: 'v=0' }, offer_id: binaryId() })

t.test('address keys: IPv4, IPv4-mapped, an IPv6 /64 as one client, loopback exempt, a proxy list', async (t) => {
  t.equal(addressKey('203.0.113.7', true), '203.0.113.7')
  t.equal(addressKey('::ffff:203.0.113.7', true), '203.0.113.7')
  t.equal(addressKey('2001:db8:1:2:aaaa::1', true), '2001:db8:1:2::/64')
  t.equal(addressKey('2001:DB8:1:2:bbbb:cccc:dddd:eeee', true), '2001:db8:1:2::/64', 'the same /64')
  t.equal(addressKey('127.0.0.1', true), undefined)
  t.equal(addressKey('::1', true), undefined)
  t.equal(addressKey('::ffff:127.0.0.1', true), undefined)
  t.equal(addressKey('127.0.0.1', false), '127.0.0.1')
  t.equal(addressKey('::1', false), '0:0:0:0::/64')
  t.equal(addressKey('198.51.100.1, 203.0.113.9', true), '203.0.113.9', 'the last entry of X-Forwarded-For')
  t.equal(addressKey(undefined, false), undefined)
  t.equal(addressKey('not-an-ip:::', true), 'not-an-ip:::', 'anything else is its own key')
})

t.test('a flood of offers, messages and sockets does not grow state past the caps', async (t) => {
  const caps = { maxPendingOffersPerSocket: 8, maxSwarmsPerSocket: 4, maxConnectionsPerAddress: 5, maxAnnouncesPerSecond: 1_000_000, maxOffersPerSecond: 1_000_000 }
  const { core, advance } = harness({ ...caps, exemptLoopback: false })
  const infoHash = binaryId()
  const holder = core.open({ address: '198.51.100.1' }).socket
  announce(core, holder, { info_hash: infoHash, peer_id: binaryId(), left: 0 })
  // 3,000 sockets from 400 addresses, 10 offers each, the holder answering none.
  const seekers: number[] = []
  for (let i = 0; i < 3000; i++) {
    const opened = core.open({ address: `203.0.${(i % 400) >> 8}.${(i % 400) & 255}` })
    if (closes(opened.effects).length > 0) continue
    seekers.push(opened.socket)
    announce(core, opened.socket, { info_hash: infoHash, peer_id: binaryId(), left: 5, offers: Array.from({ length: 10 }, offer) })
  }
  t.equal(seekers.length, 400 * 5, 'five sockets per address')
  t.equal(core.stats().rejected.too_many_connections, 1000, 'the rest refused')
  // Each seeker also floods swarms; past the cap the socket is closed.
  for (const socket of seekers.slice(0, 50)) for (let k = 0; k < 10; k++) announce(core, socket, { info_hash: binaryId(), peer_id: binaryId(), left: 0 })
  advance(1000)
  const { state } = core.stats()
  t.ok(state.maxPendingOffersPerSocket <= caps.maxPendingOffersPerSocket, `pending offers per socket: ${state.maxPendingOffersPerSocket}`)
  t.ok(state.pendingOffers <= core.stats().connections * caps.maxPendingOffersPerSocket)
  t.ok(state.maxMembershipsPerSocket <= caps.maxSwarmsPerSocket, `memberships per socket: ${state.maxMembershipsPerSocket}`)
  t.equal(state.addresses, 401)
  t.equal(state.queuedFrames, 0)
  t.equal(core.stats().rejected.too_many_swarms, 50, 'each swarm flooder was closed')
})

t.test('frames waiting for a token check are capped per socket', async (t) => {
  const { core } = harness({ auth: true })
  const s = core.open({ token: 'tok' }).socket
  for (let i = 0; i < 16; i++) core.message(s, JSON.stringify({ action: 'scrape', info_hash: binaryId() }))
  t.equal(core.stats().state.queuedFrames, 16)
  t.match(sent(core.message(s, JSON.stringify({ action: 'scrape', info_hash: binaryId() })), s), [{ failure_code: 'rate_limited' }], 'the 17th closes it')
  t.equal(core.stats().state.queuedFrames, 0)
})

t.test('the ban list: strikes within the window, then a ban that ends; bounded', async (t) => {
  const bans = createBanList({ strikes: 2, ms: 1000, maxEntries: 3 })
  t.equal(bans.strike('a', 0), false)
  t.equal(bans.banned('a', 10), false)
  t.equal(bans.strike('a', 500), true, 'the second strike bans')
  t.equal(bans.banned('a', 1400), true)
  t.equal(bans.banned('a', 1500), false, 'over 1 s after the last strike')
  t.equal(bans.strike('a', 3000), false, 'old strikes have expired')
  for (const key of ['b', 'c', 'd', 'e']) bans.strike(key, 3000)
  t.equal(bans.size, 3, 'the oldest entries go first')
  bans.sweep(10_000)
  t.equal(bans.size, 0)
  const off = createBanList({ strikes: 0, ms: 1000, maxEntries: 3 })
  t.equal(off.strike('a', 0), false)
  t.equal(off.banned('a', 0), false, 'strikes 0: no bans')
})

t.test('bans by address without auth; by subject with auth; for banMs', async (t) => {
  const { core, advance } = harness({ banStrikes: 2, banMs: 60_000, maxAnnouncesPerSecond: 3 })
  const abuse = (socket: number) => {
    for (let i = 0; i < 4; i++) core.message(socket, 'ping')
  }
  abuse(core.open({ address: '203.0.113.5' }).socket)
  const bystander = core.open({ address: '203.0.113.5' }).socket
  const second = core.open({ address: '203.0.113.5' }).socket
  const effects: TrackerEffect[] = []
  for (let i = 0; i < 4; i++) effects.push(...core.message(second, 'ping'))
  t.match(sent(effects, bystander), [{ failure_code: 'banned' }], "the second strike closes the address's other sockets")
  t.match(sent(core.open({ address: '203.0.113.5' }).effects), [{ failure_code: 'banned' }], 'and refuses new ones')
  t.same(closes(core.open({ address: '203.0.113.6' }).effects), [], 'another address is served')
  advance(60_000)
  t.same(closes(core.open({ address: '203.0.113.5' }).effects), [], 'the ban ends')

  const auth = harness({ auth: true, banStrikes: 1, maxAnnouncesPerSecond: 3 })
  const mallory = auth.core.open({ token: 't', address: '203.0.113.7' }).socket
  auth.core.verified(mallory, { ok: true, sub: 'mallory', exp: 2e9 })
  for (let i = 0; i < 4; i++) auth.core.message(mallory, 'ping')
  const again = auth.core.open({ token: 't', address: '198.51.100.9' }).socket
  t.match(sent(auth.core.verified(again, { ok: true, sub: 'mallory', exp: 2e9 })), [{ failure_code: 'banned' }], 'the subject is banned wherever it comes from')
  const alice = auth.core.open({ token: 't', address: '203.0.113.7' }).socket
  t.same(closes(auth.core.verified(alice, { ok: true, sub: 'alice', exp: 2e9 })), [], "another subject on mallory's address is not")
})

t.test('first-message deadline: only a valid request counts; nextDeadline says when', async (t) => {
  const { core, advance, now } = harness({ firstMessageTimeoutMs: 10_000 })
  const silent = core.open().socket
  advance(1000)
  const garbage = core.open().socket
  const talker = core.open().socket
  t.equal(core.nextDeadline(), now() - 1000 + 10_000)
  core.message(garbage, '{nope')
  core.message(garbage, 'ping')
  core.message(talker, JSON.stringify({ action: 'scrape', info_hash: binaryId() }))
  advance(9000)
  t.match(closes(core.tick()), [{ socket: silent, code: 4408, reason: 'first_message_timeout' }])
  t.equal(core.nextDeadline(), now() + 1000, "the garbage socket's turn next")
  advance(1000)
  t.match(closes(core.tick()), [{ socket: garbage, reason: 'first_message_timeout' }])
  t.equal(core.nextDeadline(), undefined)
  t.equal(core.stats().connections, 1)
})

t.test('token expiry: refused, out of its swarms at the next tick, back with a fresh token of its subject', async (t) => {
  const { core, advance, now } = harness({ auth: true })
  const exp = Math.floor(now() / 1000) + 60
  const carol = core.open({ token: 't' }).socket
  core.verified(carol, { ok: true, sub: 'carol', exp })
  const infoHash = binaryId()
  const carolId = binaryId()
  t.match(sent(announce(core, carol, { info_hash: infoHash, peer_id: carolId, left: 0 })), [{ complete: 1 }])
  const dave = core.open({ token: 't' }).socket
  core.verified(dave, { ok: true, sub: 'dave', exp: exp + 3600 })
  advance(60_000)
  t.same(sent(announce(core, dave, { info_hash: infoHash, peer_id: binaryId(), left: 5, offers: [offer()] }), carol), [], 'no offer to an expired socket')
  t.match(sent(announce(core, carol, { info_hash: infoHash, peer_id: carolId, left: 0 })), [{ failure_code: 'token_expired', info_hash: infoHash }])
  t.match(sent(core.tick(), carol), [{ failure_code: 'token_expired' }], 'the sweep takes it out of its swarms')
  t.equal(core.stats().peers, 1)
  const refresh = announce(core, carol, { info_hash: infoHash, peer_id: carolId, left: 0, token: 'fresh' })
  t.match(refresh, [{ type: 'verify', socket: carol, token: 'fresh' }])
  t.match(sent(core.verified(carol, { ok: true, sub: 'carol', exp: exp + 3600 })), [{ complete: 1 }], 'a fresh token: served again')
  advance(3600_000)
  announce(core, carol, { info_hash: infoHash, peer_id: carolId, left: 0, token: 'other' })
  t.match(sent(core.verified(carol, { ok: true, sub: 'mallory', exp: exp + 9000 })), [{ failure_code: 'forbidden' }], 'a fresh token of another subject closes it')
})

t.test('per-address listing: one address holds at most its share of a list', async (t) => {
  const { core } = harness({ maxListedPerAddress: 2, maxAnnouncesPerSecond: 100 })
  const infoHash = binaryId()
  for (let i = 0; i < 5; i++) announce(core, core.open({ address: '203.0.113.1' }).socket, { info_hash: infoHash, peer_id: binaryId(), left: 0 })
  const real = [0, 1, 2].map((i) => {
    const socket = core.open({ address: `198.51.100.${i}` }).socket
    announce(core, socket, { info_hash: infoHash, peer_id: binaryId(), left: 0 })
    return socket
  })
  const seeker = core.open({ address: '192.0.2.1' }).socket
  const effects = announce(core, seeker, { info_hash: infoHash, peer_id: binaryId(), left: 5, offers: Array.from({ length: 10 }, offer) })
  t.match(sent(effects, seeker), [{ complete: 5 }])
  t.same(
    real.map((s) => sent(effects, s).length),
    [1, 1, 1],
  )
  t.equal(core.stats().peers, 9, 'unlisted peers stay members')
})

t.test('the packed state keeps address, subject, expiry and the first-message clock', async (t) => {
  const { core, now } = harness({ auth: true, exemptLoopback: false, maxConnectionsPerAddress: 2 })
  const a = core.open({ token: 't', address: '127.0.0.5' }).socket
  core.verified(a, { ok: true, sub: 'app:listener-0123456789abcdef', exp: Math.floor(now() / 1000) + 3600 })
  for (let i = 0; i < 20; i++) announce(core, a, { info_hash: binaryId(), peer_id: binaryId(), left: i % 2 })
  const b = core.open({ token: 't', address: '127.0.0.5' }).socket
  const packed = [a, b].map((s) => deserialize(serialize(core.pack(s))) as unknown)
  const bytes = serialize(core.pack(a)).length
  t.ok(bytes <= 2048, `20 swarms, an address, a subject: ${bytes} bytes`)
  const other = createTrackerCore({ now: () => now() + 5000, auth: true, exemptLoopback: false, maxConnectionsPerAddress: 2 })
  t.same(other.restore(packed.map((p, i) => ({ packed: p, handle: i }))), [a, b])
  t.same(other.pack(a), core.pack(a), 'the same state, times included')
  t.match(sent(other.open({ address: '127.0.0.5' }).effects), [{ failure_code: 'too_many_connections' }], 'the per-address count came back too')
  t.equal(other.nextDeadline(), core.nextDeadline(), 'and the first-message deadline of the socket that has not spoken')
})

t.test('answers: a probe learns nothing; an offerer that left gets its holder a warning', async (t) => {
  const { core } = harness()
  const infoHash = binaryId()
  const holder = core.open().socket
  const holderId = binaryId()
  announce(core, holder, { info_hash: infoHash, peer_id: holderId, left: 0 })
  const prober = core.open().socket
  const proberId = binaryId()
  announce(core, prober, { info_hash: infoHash, peer_id: proberId, left: 0 })
  const answer = (socket: number, peerId: string, to: string, offerId: string) =>
    sent(core.message(socket, JSON.stringify({ action: 'announce', info_hash: infoHash, peer_id: peerId, to_peer_id: to, offer_id: offerId, answer: { type: 'answer', sdp: 'x' } })), socket)
  t.match(answer(prober, proberId, holderId, binaryId()), [{ failure_code: 'unknown_offer' }], 'to a member')
  t.match(answer(prober, proberId, binaryId(), binaryId()), [{ failure_code: 'unknown_offer' }], 'to a stranger: the same reply')
  const seeker = core.open().socket
  const seekerId = binaryId()
  const effects = announce(core, seeker, { info_hash: infoHash, peer_id: seekerId, left: 5, offers: [offer()] })
  const relay = effects.find((e) => e.type === 'send' && e.socket !== seeker) as Extract<TrackerEffect, { type: 'send' }>
  const to = relay.socket
  const toId = to === holder ? holderId : proberId
  const offerId = (JSON.parse(relay.data) as { offer_id: string }).offer_id
  core.close(seeker)
  t.match(answer(to, toId, seekerId, offerId), [{ warning_code: 'peer_not_found' }], 'the offerer left: a warning to the socket it offered to')
  t.match(answer(to, toId, seekerId, offerId), [{ failure_code: 'unknown_offer' }], 'once')
})
