// The pure core with an injected clock: time-based rules without sleeping, and the rebuild from
// saved socket states that Durable Object hibernation relies on.

import { serialize, deserialize } from 'node:v8'
import t from 'tap'
import { resolveTrackerOptions } from '../src/core/options.js'
import { shardOf } from '../src/core/shard.js'
import type { TrackerCore, TrackerCoreOptions, TrackerEffect } from '../src/core/tracker-core.js'
import { createTrackerCore } from '../src/core/tracker-core.js'
import { seeded } from './helpers/fuzz.js'
import { binaryId } from './helpers/peer-socket.js'

function harness(options: TrackerCoreOptions = {}) {
  let clock = 1_000_000
  const core = createTrackerCore({ now: () => clock, random: seeded(7), ...options })
  return {
    core,
    advance: (ms: number) => (clock += ms),
    open: () => core.open().socket,
  }
}

const sent = (effects: TrackerEffect[], socket?: number) =>
  effects.flatMap((e) => (e.type === 'send' && (socket === undefined || e.socket === socket) ? [JSON.parse(e.data) as Record<string, unknown>] : []))
const closes = (effects: TrackerEffect[]) => effects.filter((e) => e.type === 'close')
const announce = (core: TrackerCore, socket: number, fields: Record<string, unknown>) => core.message(socket, JSON.stringify({ action: 'announce', ...fields }))

t.test('options: defaults, and a TypeError naming a bad one', async (t) => {
  t.match(resolveTrackerOptions(), { swarmHolders: 20, maxPeersPerAnnounce: 10, scrape: true, auth: false })
  t.throws(() => resolveTrackerOptions({ maxConnections: 0 }), /maxConnections/)
  t.throws(() => resolveTrackerOptions({ idleTimeoutMs: 1.5 }), /idleTimeoutMs/)
  t.throws(() => resolveTrackerOptions({ scrape: 'no' as unknown as boolean }), /scrape/)
  t.throws(() => resolveTrackerOptions({ bogus: 1 } as never), /unknown tracker option: bogus/)
  t.throws(() => createTrackerCore({ shard: { index: 2, count: 2 } }), /shard/)
})

t.test('the announce rate is counted per socket in one-second windows', async (t) => {
  const { core, advance, open } = harness({ maxAnnouncesPerSecond: 5 })
  const a = open()
  const b = open()
  const infoHash = binaryId()
  for (let i = 0; i < 5; i++) t.equal(closes(announce(core, a, { info_hash: infoHash, peer_id: binaryId(), left: 0 })).length, 0)
  advance(1000)
  for (let i = 0; i < 5; i++) t.equal(closes(announce(core, a, { info_hash: infoHash, peer_id: binaryId(), left: 0 })).length, 0, 'a new window')
  const over = core.message(a, 'ping')
  t.match(sent(over, a), [{ failure_code: 'rate_limited' }])
  t.match(closes(over), [{ socket: a, code: 4429 }])
  t.same(core.message(a, 'ping'), [], 'a closed socket is ignored')
  t.match(core.message(b, 'ping'), [{ type: 'send', socket: b, data: 'pong' }], 'another socket is not affected')
})

t.test('idle sockets are pinged at half the timeout and closed at the timeout', async (t) => {
  const { core, advance, open } = harness({ idleTimeoutMs: 10_000, firstMessageTimeoutMs: 60_000 })
  const quiet = open()
  const ponging = open()
  advance(4_000)
  t.same(core.tick(), [], 'nothing before half')
  advance(1_000)
  t.match(core.tick(), [
    { type: 'ping', socket: quiet },
    { type: 'ping', socket: ponging },
  ])
  core.pong(ponging)
  advance(5_000)
  const effects = core.tick()
  t.match(sent(effects, quiet), [{ failure_code: 'idle_timeout' }])
  t.match(closes(effects), [{ socket: quiet, code: 4408 }])
  t.match(
    effects.filter((e) => e.socket === ponging),
    [{ type: 'ping', socket: ponging }],
    'the ponging socket is only pinged',
  )
  t.equal(effects.filter((e) => e.socket === ponging).length, 1)
  t.equal(core.stats().connections, 1)
})

t.test('announces per second in /metrics is the last whole second', async (t) => {
  const { core, advance, open } = harness({ maxAnnouncesPerSecond: 100 })
  const s = open()
  const infoHash = binaryId()
  advance(1000 - (1_000_000 % 1000))
  for (let i = 0; i < 7; i++) announce(core, s, { info_hash: infoHash, peer_id: binaryId() })
  advance(1000)
  t.equal(core.stats().announcesPerSecond, 7)
  advance(1000)
  t.equal(core.stats().announcesPerSecond, 0)
})

t.test('auth: a token in the first message is verified before anything is served', async (t) => {
  const { core, open } = harness({ auth: true })
  const s = open()
  const infoHash = binaryId()
  const peerId = binaryId()
  const first = announce(core, s, { info_hash: infoHash, peer_id: peerId, left: 0, token: 'tok' })
  t.match(first, [{ type: 'verify', socket: s, token: 'tok' }])
  t.same(announce(core, s, { info_hash: infoHash, peer_id: peerId, left: 10 }), [], 'queued meanwhile')
  t.match(sent(core.verified(s, { ok: true })), [
    { complete: 1, incomplete: 0 },
    { complete: 0, incomplete: 1 },
  ])
  const other = open()
  t.match(sent(announce(core, other, { info_hash: infoHash, peer_id: binaryId(), token: 'bad' })), [])
  t.match(sent(core.verified(other, { ok: false, code: 'forbidden', message: 'no' })), [{ failure_code: 'forbidden' }])
  t.equal(core.stats().connections, 1)
})

t.test('a shard serves only its own swarms', async (t) => {
  const { core, open } = harness({ shard: { index: 0, count: 2 } })
  const s = open()
  let mine = binaryId()
  while (shardOf(mine, 2) !== 0) mine = binaryId()
  let theirs = binaryId()
  while (shardOf(theirs, 2) !== 1) theirs = binaryId()
  t.match(sent(announce(core, s, { info_hash: mine, peer_id: binaryId() })), [{ complete: 0, incomplete: 1 }])
  t.match(sent(announce(core, s, { info_hash: theirs, peer_id: binaryId() })), [{ failure_code: 'wrong_shard', info_hash: theirs }])
})

t.test('a socket state packs small enough for a Durable Object attachment', async (t) => {
  const { core, open } = harness({ maxSwarmsPerSocket: 32, maxAnnouncesPerSecond: 100 })
  const s = open()
  for (let i = 0; i < 32; i++) announce(core, s, { info_hash: binaryId(), peer_id: binaryId(), left: i % 2, network: 'AS64500' })
  const packed = core.pack(s)
  t.ok(packed)
  const bytes = serialize(packed).length
  t.ok(bytes <= 2048, `32 swarms with 32 peer ids pack into ${bytes} bytes`)
  const other = createTrackerCore({ now: () => 9_999_999 })
  t.same(other.restore([{ packed: deserialize(serialize(packed)), handle: 'h' }]), [s])
  t.same(other.pack(s), packed, 'unpack then pack gives the same value, times included')
  t.same(
    other.restore([
      { packed: ['garbage'], handle: 1 },
      { packed: [1, 7, 0, 0, null, 0, 0, [], 'x', 9, 0, 0], handle: 2 },
    ]),
    [undefined, undefined],
    'malformed or dangling peer index',
  )
})

t.test('effects carry the handle the adapter gave', async (t) => {
  const core = createTrackerCore()
  const holderHandle = { name: 'holder' }
  const seekerHandle = { name: 'seeker' }
  const holder = core.open({ handle: holderHandle }).socket
  const seeker = core.open({ handle: seekerHandle }).socket
  const infoHash = binaryId()
  announce(core, holder, { info_hash: infoHash, peer_id: binaryId(), left: 0 })
  const effects = announce(core, seeker, { info_hash: infoHash, peer_id: binaryId(), left: 5, offers: [{ offer: { type: 'offer', sdp: 'x' }, offer_id: binaryId() }] })
  t.same(
    effects.map((e) => [e.socket, e.handle]),
    [
      [seeker, seekerHandle],
      [holder, holderHandle],
    ],
  )
  t.same(core.handles(), [holderHandle, seekerHandle])
})

t.test('restoring from packed states rebuilds the same swarms', async (t) => {
  const random = seeded(42)
  const build = () => createTrackerCore({ now: () => 5_000_000, random: seeded(1), maxAnnouncesPerSecond: 1000, maxSwarmsPerSocket: 64 })
  const swarms = Array.from({ length: 5 }, () => binaryId())
  let clock = 0
  const timed = createTrackerCore({ now: () => clock, random: seeded(1), maxAnnouncesPerSecond: 1000, maxSwarmsPerSocket: 64 })
  const timedSockets = Array.from({ length: 40 }, () => timed.open().socket)
  for (let round = 0; round < 200; round++) {
    clock += 10
    const i = Math.floor(random() * timedSockets.length)
    const swarm = swarms[Math.floor(random() * swarms.length)] as string
    announce(timed, timedSockets[i] as number, { info_hash: swarm, peer_id: `peer-${String(i).padStart(15, '0')}`, left: random() < 0.6 ? 0 : 100 })
  }
  const restored = build()
  restored.restore(timedSockets.map((s) => ({ packed: deserialize(serialize(timed.pack(s))), handle: s })))
  t.match(restored.stats(), { connections: timed.stats().connections, swarms: timed.stats().swarms, peers: timed.stats().peers })
  const scrape = (core: TrackerCore, socket: number) => sent(core.message(socket, JSON.stringify({ action: 'scrape', info_hash: swarms })), socket)
  t.same(scrape(restored, timedSockets[0] as number), scrape(timed, timedSockets[0] as number), 'same counts per swarm')
  // The same announce with offers picks the same peers (same random seed, same recency lists).
  const probe = (core: TrackerCore) => {
    const socket = core.open().socket
    const offers = Array.from({ length: 10 }, (_, k) => ({ offer: { type: 'offer', sdp: `o${k}` }, offer_id: binaryId() }))
    return core
      .message(socket, JSON.stringify({ action: 'announce', info_hash: swarms[0], peer_id: binaryId(), left: 1, offers }))
      .filter((e) => e.type === 'send' && e.socket !== socket)
      .map((e) => e.socket)
      .sort()
  }
  const a = probe(timed)
  t.ok(a.length > 0)
  t.same(probe(restored), a)
})
