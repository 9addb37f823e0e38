// Track scope and bounded exposure in the pure core, with an injected clock: the synchronous
// swarm hash agrees with the protocol's, the peer limit rolls over after an hour, holds for the
// receiving side too, keeps memory bounded, survives a restart from what a Durable Object stores,
// and flags who meets far more peers than it plays.

import { createHash, randomBytes } from 'node:crypto'
import t from 'tap'
import { hexIdToBinary, swarmInfoHash } from '../../protocol/index.js'
import { isOutlier } from '../src/core/exposure.js'
import { sha256, swarmInfoHashBinary } from '../src/core/sha256.js'
import { packSocketState, unpackSocketState } from '../src/core/socket-state.js'
import type { TrackerCore, TrackerCoreOptions, TrackerEffect } from '../src/core/tracker-core.js'
import { createTrackerCore, listenerLabel } from '../src/core/tracker-core.js'
import { operatorAuthorized } from '../src/operator.js'
import { seeded } from './helpers/fuzz.js'
import { binaryId } from './helpers/peer-socket.js'

function harness(options: TrackerCoreOptions = {}) {
  let clock = 1_000_000
  const core = createTrackerCore({ now: () => clock, random: seeded(3), exemptLoopback: false, maxAnnouncesPerSecond: 1_000_000, maxOffersPerSecond: 1_000_000, ...options })
  return { core, advance: (ms: number) => (clock += ms), now: () => clock }
}
const frames = (effects: TrackerEffect[], socket: number) => effects.flatMap((e) => (e.type === 'send' && e.socket === socket ? [JSON.parse(e.data) as Record<string, unknown>] : []))
const announce = (core: TrackerCore, socket: number, fields: Record<string, unknown>) => core.message(socket, JSON.stringify({ action: 'announce', ...fields }))
const offer = () => ({ offer: { type: 'offer', sdp: 'v=0' }, offer_id: binaryId() })
const offersTo = (effects: TrackerEffect[], socket: number) => frames(effects, socket).filter((f) => 'offer' in f).length

t.test('the synchronous SHA-256 and swarm hash agree with node:crypto and the protocol', async (t) => {
  for (let n = 0; n < 200; n++) {
    const data = randomBytes(n)
    t.equal(Buffer.from(sha256(data)).toString('hex'), createHash('sha256').update(data).digest('hex'), `length ${n}`)
  }
  for (const [id, version, bitrate] of [
    ['t1', 'v1', 96000],
    ['ünï"code\\', '2026-01-01', 320000],
    ['x'.repeat(256), 'v', 1],
  ] as const) {
    t.equal(swarmInfoHashBinary(id, version, bitrate), hexIdToBinary(await swarmInfoHash(id, version, bitrate)), `swarm ${id.slice(0, 12)}`)
  }
})

t.test('operator token: constant-time check of the Bearer value', async (t) => {
  t.ok(operatorAuthorized(undefined, undefined), 'no token configured: open')
  t.ok(operatorAuthorized('Bearer s3cret', 's3cret'))
  t.ok(operatorAuthorized('bearer   s3cret ', 's3cret'), 'the scheme is case-insensitive')
  for (const header of [undefined, null, '', 's3cret', 'Bearer', 'Bearer s3cre', 'Bearer s3cretx', 'Basic s3cret', 'Bearer s3cret extra']) {
    t.notOk(operatorAuthorized(header, 's3cret'), `refused: ${JSON.stringify(header)}`)
  }
})

t.test('a token with a tracks claim: scope checked per announce, kept in the packed state', async (t) => {
  const { core, now, advance } = harness({ auth: true })
  const socket = core.open({ token: 't', address: '198.51.100.7' }).socket
  core.verified(socket, { ok: true, sub: 'u', tracks: ['a'], exp: Math.floor(now() / 1000) + 60 })
  const hashA = swarmInfoHashBinary('a', 'v1', 160)
  const hashB = swarmInfoHashBinary('b', 'v1', 160)
  t.match(frames(announce(core, socket, { info_hash: hashA, peer_id: binaryId(), left: 1 }), socket), [{ failure_code: 'track_not_covered' }])
  t.match(frames(announce(core, socket, { info_hash: hashB, peer_id: binaryId(), left: 1, chorus_track: { id: 'a', version: 'v1', bitrate: 160 } }), socket), [{ failure_code: 'track_mismatch' }])
  t.match(
    frames(announce(core, socket, { info_hash: hashA, peer_id: binaryId(), left: 1, chorus_track: { id: 'a', version: 'v1', bitrate: 160.5 } }), socket),
    [{ failure_code: 'invalid_field' }],
    'a malformed chorus_track is invalid',
  )
  t.match(frames(announce(core, socket, { info_hash: hashA, peer_id: binaryId(), left: 1, chorus_track: { id: 'a', version: 'v1', bitrate: 160 } }), socket), [{ interval: 120 }])
  t.same(core.stats().rejected, { track_not_covered: 1, track_mismatch: 1, invalid_field: 1 })
  const packed = core.pack(socket)
  t.same(packed?.[12], ['a'], 'the claim rides in the attachment')
  t.same(unpackSocketState(packed, 0, null)?.tracks, ['a'])
  const state = unpackSocketState(packed, 0, null)
  if (state !== undefined) state.tracks = undefined
  t.equal(state === undefined ? undefined : packSocketState(state, 0)[12], null, 'no claim: null')
  const v2 = [2, ...(packed as unknown[]).slice(1, 12), ...(packed as unknown[]).slice(13)]
  t.same(unpackSocketState(v2, 0, null)?.tracks, undefined, 'format 2 (before claims) still reads, as every track')
  // Once the token expired, a fresh one with a narrower claim applies from the request it came with.
  advance(61_000)
  announce(core, socket, { info_hash: swarmInfoHashBinary('a', 'v2', 160), peer_id: binaryId(), left: 1, token: 'fresh', chorus_track: { id: 'a', version: 'v2', bitrate: 160 } })
  const after = core.verified(socket, { ok: true, sub: 'u', tracks: ['c'], exp: Math.floor(now() / 1000) + 60 })
  t.match(
    after.flatMap((e) => (e.type === 'send' ? [JSON.parse(e.data)] : [])),
    [{ failure_code: 'track_not_covered' }],
    'track a is no longer covered',
  )
})

t.test('the peer limit: offerer and receiver, one hour rolling', async (t) => {
  const N = 3
  // Sockets stay open over the hour (no idle sweep), as keep-alives would keep them.
  const { core, advance } = harness({ maxPeersLearnedPerHour: N, idleTimeoutMs: 10_000_000 })
  const open = (i: number) => core.open({ address: `203.0.113.${i}` }).socket
  // Five holders in one swarm, each its own address.
  const swarm = binaryId()
  const holders = [1, 2, 3, 4, 5].map((i) => {
    const s = open(i)
    announce(core, s, { info_hash: swarm, peer_id: binaryId(), left: 0 })
    return s
  })
  const seeker = open(50)
  const seekerId = binaryId()
  let effects = announce(core, seeker, { info_hash: swarm, peer_id: seekerId, left: 9, offers: [offer(), offer(), offer(), offer(), offer()] })
  t.equal(
    holders.reduce((n, h) => n + offersTo(effects, h), 0),
    N,
    `5 offers, ${N} relayed`,
  )
  t.match(frames(effects, seeker).at(-1), { warning_code: 'peer_limit' })
  t.equal(core.stats().pairingsWithheld, 2)
  const met = holders.filter((h) => offersTo(effects, h) === 1)

  // A receiver at its limit is passed over for another: a holder that met 3 others gets no 4th.
  const busy = met[0] as number
  for (let i = 0; i < 2; i++) {
    const other = open(60 + i)
    const hash = binaryId()
    announce(core, busy, { info_hash: hash, peer_id: binaryId(), left: 0 })
    effects = announce(core, other, { info_hash: hash, peer_id: binaryId(), left: 9, offers: [offer()] })
    t.equal(offersTo(effects, busy), 1, `the busy holder meets peer ${i + 2}`)
  }
  const late = open(70)
  const lateHash = binaryId()
  announce(core, busy, { info_hash: lateHash, peer_id: binaryId(), left: 0 })
  const spare = open(71)
  announce(core, spare, { info_hash: lateHash, peer_id: binaryId(), left: 0 })
  effects = announce(core, late, { info_hash: lateHash, peer_id: binaryId(), left: 9, offers: [offer()] })
  t.equal(offersTo(effects, busy), 0, 'the holder at its limit is passed over')
  t.equal(offersTo(effects, spare), 1, 'the offer goes to the other holder instead')
  t.notOk(
    frames(effects, late).some((f) => 'warning message' in f),
    'the announcer is not warned: it is not at its limit',
  )

  // Known peers: still introduced at the limit.
  effects = announce(core, seeker, { info_hash: swarm, peer_id: seekerId, left: 9, offers: [offer(), offer(), offer(), offer(), offer()] })
  t.equal(
    holders.reduce((n, h) => n + offersTo(effects, h), 0),
    N,
    'at its limit, the seeker still reaches the peers it met (the busy one too: they know each other)',
  )
  t.same(
    met,
    holders.filter((h) => offersTo(effects, h) === 1),
    'and only those',
  )
  advance(3_600_000)
  core.tick()
  effects = announce(core, seeker, { info_hash: swarm, peer_id: seekerId, left: 9, offers: [offer(), offer(), offer(), offer(), offer()] })
  t.equal(
    holders.reduce((n, h) => n + offersTo(effects, h), 0),
    N,
    'an hour later, new introductions again',
  )
})

t.test('exposure accounting: bounded memory, survives a restart, flags collectors', async (t) => {
  const { core, now } = harness({ maxPeersLearnedPerHour: 5, maxConnections: 100 })
  const swarm = binaryId()
  const holder = core.open({ address: '198.51.100.1' }).socket
  announce(core, holder, { info_hash: swarm, peer_id: binaryId(), left: 0 })
  // 3,000 one-shot seekers from distinct addresses: the table keeps at most max(1024, maxConnections).
  for (let i = 0; i < 3000; i++) {
    const s = core.open({ address: `10.${i >> 16}.${(i >> 8) & 255}.${i & 255}` }).socket
    const id = binaryId()
    const hash = binaryId()
    // Progress in a swarm of its own: an entry for each address.
    announce(core, s, { info_hash: hash, peer_id: id, left: 5 })
    announce(core, s, { info_hash: hash, peer_id: id, left: 4 })
    core.close(s)
  }
  t.equal(core.stats().exposure.listeners, 1024, 'the table keeps its 1024 most recent listeners, no more')

  // A collector meets 5 peers in 5 swarms without progress; a player meets 2 and progresses in 2.
  const fresh = harness({ maxPeersLearnedPerHour: 5 })
  const c2 = fresh.core
  const collector = c2.open({ address: '192.0.2.66' }).socket
  const player = c2.open({ address: '192.0.2.77' }).socket
  for (let i = 0; i < 7; i++) {
    const hash = binaryId()
    const h = c2.open({ address: `198.51.100.${10 + i}` }).socket
    announce(c2, h, { info_hash: hash, peer_id: binaryId(), left: 0 })
    announce(c2, collector, { info_hash: hash, peer_id: binaryId(), left: 100, offers: [offer()] })
    if (i < 2) {
      const id = binaryId()
      announce(c2, player, { info_hash: hash, peer_id: id, left: 100, offers: [offer()] })
      announce(c2, player, { info_hash: hash, peer_id: id, left: 50 })
    }
  }
  const report = c2.stats().exposure
  const row = (address: string) => report.top.find((r) => r.label === listenerLabel(`addr:${address}`))
  t.match(row('192.0.2.66'), { learned: 5, progressing: 0, flagged: true, withheld: 2 }, 'the collector: at its limit, flagged')
  t.match(row('192.0.2.77'), { learned: 2, progressing: 2, flagged: false }, 'the player: not flagged')
  t.equal(report.atLimit, 1)
  t.notOk(JSON.stringify(report).includes('192.0.2'), 'labels, not addresses')

  // What a Durable Object stores brings the limit back in a new core (eviction, restart).
  const stored = new Map(c2.exposureChanges())
  t.ok(
    [...stored.keys()].every((k) => /^exposure:[0-9a-f]{64}$/.test(k)),
    'storage keys are hashes',
  )
  const restarted = harness({ maxPeersLearnedPerHour: 5 })
  restarted.advance(now() - restarted.now() + 60_000)
  restarted.core.restoreExposure([...stored.values()].filter((v) => v !== null))
  const again = restarted.core.open({ address: '192.0.2.66' }).socket
  const hash = binaryId()
  const h = restarted.core.open({ address: '198.51.100.99' }).socket
  announce(restarted.core, h, { info_hash: hash, peer_id: binaryId(), left: 0 })
  const effects = announce(restarted.core, again, { info_hash: hash, peer_id: binaryId(), left: 100, offers: [offer()] })
  t.equal(offersTo(effects, h), 0, 'the restored collector is still at its limit')
  t.match(frames(effects, again).at(-1), { warning_code: 'peer_limit' })
})

t.test('the outlier rule', async (t) => {
  t.ok(isOutlier(60, 0, 60), 'a collector that plays nothing')
  t.ok(isOutlier(8, 0, 8), 'at a small limit too')
  t.notOk(isOutlier(40, 6, 60), 'about 7 peers per played track')
  t.notOk(isOutlier(10, 0, 60), 'too few peers to say')
  t.ok(isOutlier(60, 3, 60), '20 peers per played track')
})
