// The security review's attacks (issue 15), each repeated against a running tracker (ws, sharded,
// Durable Object): what the attacker got (nothing), the refusal counted in /metrics, and an
// honest pair of peers that still meets afterwards. Clients connect from distinct loopback
// addresses (127.10.x.y) so that the per-address rules see distinct clients.

import type { Test } from 'tap'
import { testOriginKey } from '../../../test-support/origin-key.js'
import { announce, announceMessage, eventually, isAnswer, isFailure, isOffer, isReply, isScrape, isWarning, metric, sync, take, withTracker } from './compliance-kit.js'
import type { Frame, PeerSocket } from './peer-socket.js'
import { closedWithin, freshAddress, hexId } from './peer-socket.js'
import type { StartTracker, StartedTracker } from './start-trackers.js'

type Connect = () => Promise<PeerSocket>

/** Small caps so that each attack reaches them quickly; loopback counted like any address. */
const SECURE = {
  exemptLoopback: false,
  maxConnectionsPerAddress: 6,
  maxListedPerAddress: 2,
  maxOffersPerSecond: 12,
  maxPendingOffersPerSocket: 4,
  maxMessageChars: 4096,
  maxAnnouncesPerSecond: 100,
  banStrikes: 1,
  banMs: 60_000,
}

function answerTo(infoHash: string, peerId: string, offer: Frame, sdp = 'v=0 answer'): Record<string, unknown> {
  return { action: 'announce', info_hash: infoHash, peer_id: peerId, to_peer_id: offer.peer_id, offer_id: offer.offer_id, answer: { type: 'answer', sdp } }
}

/** Offers and answers that reached `peer`, once everything sent to it so far has arrived. */
async function relaysTo(peer: PeerSocket): Promise<Frame[]> {
  await sync(peer)
  return take(peer, (f) => isOffer(f) || isAnswer(f))
}

async function rejected(tracker: StartedTracker, code: string): Promise<number> {
  const n = await metric(tracker, `chorus_tracker_rejected_total{code="${code}"}`)
  return Number.isNaN(n) ? 0 : n
}

/** Two honest peers meet: the seeker's offer reaches the holder, and the holder's answer the seeker. */
async function honestPairMeets(t: Test, connectHolder: Connect, connectSeeker: Connect = connectHolder): Promise<void> {
  const infoHash = hexId()
  const holder = await connectHolder()
  const holderId = hexId()
  await announce(holder, { infoHash, peerId: holderId, left: 0 })
  const seeker = await connectSeeker()
  const seekerId = hexId()
  seeker.send(announceMessage({ infoHash, peerId: seekerId, left: 10, offers: 1 }))
  await seeker.next(isReply)
  const offer = await holder.next((f) => isOffer(f) && f.peer_id === seekerId)
  holder.send(answerTo(infoHash, holderId, offer, 'v=0 honest'))
  t.match(await seeker.next(isAnswer), { peer_id: holderId, offer_id: offer.offer_id, answer: { sdp: 'v=0 honest' } }, 'an honest pair still meets: offer and answer went through')
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

export function securityCompliance(t: Test, start: StartTracker): void {
  t.test('security (issue 15)', async (t) => {
    const { tracker, peer } = await withTracker(t, start, SECURE)
    const fresh = () => peer(undefined, { from: freshAddress() })

    t.test('1. a peer_id belongs to the socket that announced it first, until that socket closes', async (t) => {
      const infoHash = hexId()
      const victim = await fresh()
      const victimId = hexId()
      await announce(victim, { infoHash, peerId: victimId, left: 0 })
      const before = await rejected(tracker, 'peer_id_taken')
      const attacker = await fresh()
      t.match(await announce(attacker, { infoHash, peerId: victimId, left: 0 }), { failure_code: 'peer_id_taken', info_hash: infoHash }, "announcing the victim's peer_id is refused")
      const seeker = await fresh()
      seeker.send(announceMessage({ infoHash, peerId: hexId(), left: 5, offers: 3 }))
      t.match(await seeker.next(isReply), { complete: 1 }, 'the attacker took no place in the swarm')
      const offer = await victim.next(isOffer)
      attacker.send(answerTo(infoHash, victimId, offer, 'v=0 forged'))
      t.match(await attacker.next(isFailure), { failure_code: 'peer_id_taken' }, 'answering as the victim is refused')
      t.match(await announce(attacker, { infoHash, peerId: victimId, event: 'stopped' }), { failure_code: 'peer_id_taken' }, 'stopping the victim is refused')
      victim.send(answerTo(infoHash, victimId, offer))
      t.match(await seeker.next(isAnswer), { peer_id: victimId, answer: { sdp: 'v=0 answer' } }, "the seeker gets the victim's own answer, not the forged one")
      t.same(await relaysTo(attacker), [], 'the attacker received no offer and no answer')
      t.same(await relaysTo(seeker), [], 'and nothing else reached the seeker')
      t.match(await announce(await fresh(), { infoHash, peerId: hexId(), left: 3 }), { complete: 1 }, 'the victim is still listed')
      t.ok((await rejected(tracker, 'peer_id_taken')) >= before + 3, 'the refusals are counted in /metrics')
      await victim.close()
      await eventually(async () => isReply(await announce(attacker, { infoHash, peerId: victimId, left: 0 })), 'the peer_id is free once its socket closed')
      await honestPairMeets(t, fresh)
    })

    t.test('2. eclipse: made-up holders from one socket or one address do not take every offer', async (t) => {
      const infoHash = hexId()
      const real = [await fresh(), await fresh(), await fresh()]
      for (const holder of real) await announce(holder, { infoHash, peerId: hexId(), left: 0 })
      // The finding: one socket announcing 20 made-up holder ids.
      const from = freshAddress()
      const attacker = await peer(undefined, { from })
      const outcomes: string[] = []
      for (let i = 0; i < 20; i++) {
        const reply = await announce(attacker, { infoHash, peerId: hexId(), left: 0 })
        outcomes.push(isFailure(reply) ? String(reply.failure_code) : 'listed')
      }
      t.same(outcomes, ['listed', ...Array<string>(19).fill('one_peer_id_per_swarm')], 'one peer_id per socket per swarm')
      // The variant: more sockets from the same address, up to its connection cap, one made-up holder each.
      const sybils = [attacker]
      for (let i = 1; i < SECURE.maxConnectionsPerAddress; i++) {
        const sybil = await peer(undefined, { from })
        await announce(sybil, { infoHash, peerId: hexId(), left: 0 })
        sybils.push(sybil)
      }
      const seeker = await fresh()
      seeker.send(announceMessage({ infoHash, peerId: hexId(), left: 9, offers: 10 }))
      t.match(await seeker.next(isReply), { complete: real.length + SECURE.maxListedPerAddress }, "one address holds at most its share of the holders' list")
      await Promise.all([...real, ...sybils].map(sync))
      t.same(
        real.map((holder) => take(holder, isOffer).length),
        [1, 1, 1],
        'each of the 3 real holders got an offer',
      )
      const stolen = sybils.reduce((n, sybil) => n + take(sybil, isOffer).length, 0)
      t.ok(stolen <= SECURE.maxListedPerAddress, `the attacker got ${stolen} of 10 offers (at most ${SECURE.maxListedPerAddress})`)
      await honestPairMeets(t, fresh)
    })

    t.test('3. an answer is relayed only for an offer relayed to the answering socket', async (t) => {
      const infoHash = hexId()
      const holder = await fresh()
      const holderId = hexId()
      const attacker = await fresh()
      const attackerId = hexId()
      await announce(holder, { infoHash, peerId: holderId, left: 0 })
      await announce(attacker, { infoHash, peerId: attackerId, left: 0 })
      const seeker = await fresh()
      seeker.send(announceMessage({ infoHash, peerId: hexId(), left: 9, offers: 2 }))
      await seeker.next(isReply)
      const toHolder = await holder.next(isOffer)
      const toAttacker = await attacker.next(isOffer)
      const before = await rejected(tracker, 'unknown_offer')
      attacker.send(answerTo(infoHash, attackerId, toHolder, 'v=0 spoofed'))
      t.match(await attacker.next(isFailure), { failure_code: 'unknown_offer', info_hash: infoHash }, 'answering the offer meant for another peer is refused')
      attacker.send(answerTo(infoHash, attackerId, { ...toHolder, offer_id: hexId() }, 'v=0 guessed'))
      t.match(await attacker.next(isFailure), { failure_code: 'unknown_offer' }, 'so is an offer_id that was never relayed')
      holder.send(answerTo(infoHash, holderId, toHolder))
      t.match(await seeker.next(isAnswer), { peer_id: holderId, offer_id: toHolder.offer_id, answer: { sdp: 'v=0 answer' } }, "the holder's answer goes through")
      holder.send(answerTo(infoHash, holderId, toHolder, 'v=0 replayed'))
      t.match(await holder.next(isFailure), { failure_code: 'unknown_offer' }, 'an offer is answered once')
      t.same(await relaysTo(seeker), [], 'no spoofed, guessed or replayed answer reached the seeker')
      t.ok((await rejected(tracker, 'unknown_offer')) >= before + 3, 'the refusals are counted in /metrics')
      attacker.send(answerTo(infoHash, attackerId, toAttacker, 'v=0 own'))
      t.match(await seeker.next(isAnswer), { peer_id: attackerId, answer: { sdp: 'v=0 own' } }, 'its own offer it may answer')
      // An offerer that left: the holder of its offer is told so, as before.
      const swarm2 = hexId()
      await announce(holder, { infoHash: swarm2, peerId: holderId, left: 0 })
      const leaving = await fresh()
      leaving.send(announceMessage({ infoHash: swarm2, peerId: hexId(), left: 9, offers: 1 }))
      await leaving.next(isReply)
      const orphan = await holder.next(isOffer)
      await leaving.close()
      await eventually(async () => {
        holder.send({ action: 'scrape', info_hash: swarm2 })
        const files = (await holder.next(isScrape)).files as Record<string, { incomplete: number }>
        return files[swarm2]?.incomplete === 0
      }, 'the offerer left')
      holder.send(answerTo(swarm2, holderId, orphan))
      t.match(await holder.next(isWarning), { warning_code: 'peer_not_found', info_hash: swarm2 }, 'answering an offer whose offerer left: a warning, as before')
      await honestPairMeets(t, fresh)
    })

    t.test('4. offer floods, oversized and malformed frames are refused and counted; state stays bounded', async (t) => {
      // A socket's offers per second.
      const infoHash = hexId()
      const holder = await fresh()
      await announce(holder, { infoHash, peerId: hexId(), left: 0 })
      const flooder = await fresh()
      const flooderId = hexId()
      const floods = await rejected(tracker, 'too_many_offers')
      flooder.send(announceMessage({ infoHash, peerId: flooderId, left: 9, offers: 10 }))
      flooder.send(announceMessage({ infoHash, peerId: flooderId, left: 9, offers: 10 }))
      t.match(await flooder.next(isReply), { info_hash: infoHash }, 'the first 10 offers go')
      t.match(await flooder.next(isFailure), { failure_code: 'too_many_offers', info_hash: infoHash }, `the next 10 in the same second pass ${SECURE.maxOffersPerSecond}: refused`)
      t.equal((await relaysTo(holder)).length, 1, 'the holder got one offer (one per peer), not two')
      t.ok(flooder.isOpen, 'the flooder may go on at the allowed rate')
      t.ok((await rejected(tracker, 'too_many_offers')) >= floods + 1, 'counted in /metrics')

      // Offers piling up on one socket that never answers: the oldest are forgotten.
      const target = await fresh()
      const targetId = hexId()
      const swarm = hexId()
      await announce(target, { infoHash: swarm, peerId: targetId, left: 0 })
      const seekers: PeerSocket[] = []
      const received: Frame[] = []
      for (let i = 0; i < SECURE.maxPendingOffersPerSocket + 2; i++) {
        const seeker = await fresh()
        seeker.send(announceMessage({ infoHash: swarm, peerId: hexId(), left: 9, offers: 1 }))
        await seeker.next(isReply)
        seekers.push(seeker)
        received.push(await target.next(isOffer))
      }
      const held = await metric(tracker, 'chorus_tracker_pending_offers_max_per_socket')
      t.ok(held <= SECURE.maxPendingOffersPerSocket, `the fullest socket keeps ${held} pending offers (cap ${SECURE.maxPendingOffersPerSocket})`)
      target.send(answerTo(swarm, targetId, received[0] as Frame))
      t.match(await target.next(isFailure), { failure_code: 'unknown_offer' }, 'the oldest offer was forgotten')
      target.send(answerTo(swarm, targetId, received.at(-1) as Frame))
      t.match(await (seekers.at(-1) as PeerSocket).next(isAnswer), { peer_id: targetId }, 'the newest is answered')

      // Malformed and oversized frames.
      const codes = ['invalid_json', 'binary_frame', 'invalid_field', 'message_too_large'] as const
      const before = Object.fromEntries(await Promise.all(codes.map(async (code) => [code, await rejected(tracker, code)] as const)))
      const p = await fresh()
      p.send('{nope')
      t.match(await p.next(isFailure), { failure_code: 'invalid_json' })
      p.send(Buffer.from([1, 2, 3]))
      t.match(await p.next(isFailure), { failure_code: 'binary_frame' })
      p.send({ action: 'announce', info_hash: 'short', peer_id: hexId() })
      t.match(await p.next(isFailure), { failure_code: 'invalid_field' })
      const big = await fresh()
      big.send(JSON.stringify({ ...announceMessage({ infoHash: hexId(), peerId: hexId() }), pad: 'x'.repeat(SECURE.maxMessageChars) }))
      t.match(await big.next(isFailure), { failure_code: 'message_too_large' })
      t.equal((await closedWithin(big)).code, 4413)
      for (const code of codes) t.ok((await rejected(tracker, code)) >= (before[code] as number) + 1, `${code} counted in /metrics`)
      // Past 4x the limit ws drops the frame itself (1009, counted by the adapter); workerd hands it to the core.
      const transportBefore = await metric(tracker, 'chorus_tracker_oversized_frames_closed')
      const huge = await fresh()
      huge.send('x'.repeat(SECURE.maxMessageChars * 5))
      const { code } = await closedWithin(huge)
      t.ok(code === 1009 || code === 4413, `a frame 5x the limit closes the socket (${code})`)
      await eventually(
        async () => (await metric(tracker, 'chorus_tracker_oversized_frames_closed')) > transportBefore || (await rejected(tracker, 'message_too_large')) >= (before.message_too_large as number) + 2,
        'the huge frame counted',
      )

      // What the limits bound, as /metrics reports it after all of the above.
      t.ok((await metric(tracker, 'chorus_tracker_pending_offers_max_per_socket')) <= SECURE.maxPendingOffersPerSocket, 'pending offers per socket within the cap')
      t.ok((await metric(tracker, 'chorus_tracker_memberships_max_per_socket')) <= 32, 'swarms per socket within the cap')
      t.ok((await metric(tracker, 'chorus_tracker_addresses')) <= (await metric(tracker, 'chorus_tracker_connections')), 'one address entry per connected address at most')
      t.equal(await metric(tracker, 'chorus_tracker_queued_frames'), 0, 'no frames queued')
      await honestPairMeets(t, fresh)
    })

    t.test('5. connections per client address', async (t) => {
      const from = freshAddress()
      const mine: PeerSocket[] = []
      for (let i = 0; i < SECURE.maxConnectionsPerAddress; i++) mine.push(await peer(undefined, { from }))
      await Promise.all(mine.map(sync))
      const before = await rejected(tracker, 'too_many_connections')
      const extra = await peer(undefined, { from })
      t.match(await extra.next(isFailure), { failure_code: 'too_many_connections' }, `socket ${SECURE.maxConnectionsPerAddress + 1} from one address is refused`)
      t.equal((await closedWithin(extra)).code, 4503)
      t.ok((await rejected(tracker, 'too_many_connections')) >= before + 1, 'counted in /metrics')
      await sync(await fresh())
      t.pass('another address is served')
      await (mine[0] as PeerSocket).close()
      await eventually(async () => {
        const again = await peer(undefined, { from })
        again.send({ action: 'scrape', info_hash: hexId() })
        return isScrape(await again.next())
      }, 'a closed socket frees its slot')
      await honestPairMeets(t, fresh)
    })

    t.test('8. a ban follows the address (no auth), not the peer_id', async (t) => {
      const from = freshAddress()
      const other = await peer(undefined, { from })
      await sync(other)
      const abuser = await peer(undefined, { from })
      const infoHash = hexId()
      const peerId = hexId()
      for (let i = 0; i < 3 * SECURE.maxAnnouncesPerSecond; i++) abuser.send(announceMessage({ infoHash, peerId, left: 0 }))
      t.match(await abuser.next((f) => isFailure(f) && f.failure_code === 'rate_limited'), {}, 'the abuser is closed for its rate')
      t.equal((await closedWithin(abuser)).code, 4429)
      t.match(await other.next(isFailure), { failure_code: 'banned' }, "the address's other sockets go too")
      await closedWithin(other)
      const back = await peer(undefined, { from })
      t.match(await back.next(isFailure), { failure_code: 'banned' }, 'coming back (under any peer_id) is refused')
      t.equal((await closedWithin(back)).code, 4429)
      t.ok((await rejected(tracker, 'banned')) >= 2, 'counted in /metrics')
      t.ok((await metric(tracker, 'chorus_tracker_bans')) >= 1)
      await honestPairMeets(t, fresh)
    })
  })

  t.test('security: a socket must send a valid request soon after connecting', async (t) => {
    const { tracker, peer } = await withTracker(t, start, { firstMessageTimeoutMs: 600 })
    const silent = await peer()
    const garbage = await peer()
    garbage.send('{nope')
    t.match(await garbage.next(isFailure), { failure_code: 'invalid_json' })
    const talker = await peer()
    await announce(talker, { infoHash: hexId(), peerId: hexId(), left: 0 })
    t.match(await silent.next(isFailure), { failure_code: 'first_message_timeout' }, 'a silent socket is closed')
    t.equal((await closedWithin(silent)).code, 4408)
    t.match(await garbage.next(isFailure), { failure_code: 'first_message_timeout' }, 'invalid frames do not count')
    await closedWithin(garbage)
    await sleep(900)
    t.ok(talker.isOpen, 'a socket that announced stays open past the deadline')
    t.ok((await rejected(tracker, 'first_message_timeout')) >= 2, 'counted in /metrics')
    await honestPairMeets(t, () => peer())
  })

  t.test('security: no offers in a swarm below the minimum size', async (t) => {
    const { tracker, peer } = await withTracker(t, start, { minSwarmSize: 3 })
    const infoHash = hexId()
    const first = await peer()
    const firstId = hexId()
    await announce(first, { infoHash, peerId: firstId, left: 0 })
    const seeker = await peer()
    const seekerId = hexId()
    seeker.send(announceMessage({ infoHash, peerId: seekerId, left: 9, offers: 2 }))
    t.match(await seeker.next(isReply), { complete: 1, incomplete: 1 })
    t.same(await relaysTo(first), [], 'the lone listener of a rare track gets no offer')
    t.ok((await metric(tracker, 'chorus_tracker_offers_withheld_total')) >= 1, 'counted in /metrics')
    const second = await peer()
    await announce(second, { infoHash, peerId: hexId(), left: 0 })
    seeker.send(announceMessage({ infoHash, peerId: seekerId, left: 9, offers: 2 }))
    await seeker.next(isReply)
    const offer = await first.next(isOffer)
    await second.next(isOffer)
    first.send(answerTo(infoHash, firstId, offer))
    t.match(await seeker.next(isAnswer), { peer_id: firstId }, 'with 3 peers offers flow and the answer comes back')
  })

  t.test('security with auth: scrape, token expiry, bans by subject', async (t) => {
    const origin = await testOriginKey()
    const { tracker, peer } = await withTracker(t, start, { authKey: origin.publicKey, exemptLoopback: false, banStrikes: 1, banMs: 60_000 })
    const token = (sub: string, ttlSec?: number, now?: number) => origin.token({ sub, ...(ttlSec !== undefined && { ttlSec }) }, now)
    const as = async (sub: string, from = freshAddress()) => peer(`${tracker.wsUrl}?token=${await token(sub)}`, { from })

    t.test('7. scrape answers counts only, and only to an authenticated socket', async (t) => {
      const infoHash = hexId()
      await announce(await as('holder'), { infoHash, peerId: hexId(), left: 0 })
      const anonymous = await peer(undefined, { from: freshAddress() })
      anonymous.send({ action: 'scrape', info_hash: infoHash })
      t.match(await anonymous.next(), { failure_code: 'unauthorized' }, 'no token, no counts')
      t.equal((await closedWithin(anonymous)).code, 4401)
      t.notOk(anonymous.queued.some(isScrape), 'nothing about the swarm reached it')
      const member = await as('member')
      member.send({ action: 'scrape', info_hash: infoHash })
      const reply = await member.next(isScrape)
      t.same(JSON.parse(reply.raw), { action: 'scrape', files: { [infoHash]: { complete: 1, incomplete: 0, downloaded: 1 } } }, 'counts, no peer ids, no addresses')
      await honestPairMeets(
        t,
        () => as('alice'),
        () => as('bob'),
      )
    })

    t.test('9. an expired token: the next request is refused, a fresh token goes on', async (t) => {
      const signedAt = Date.now()
      const expiresAt = (Math.floor(signedAt / 1000) + 2) * 1000
      const carol = await peer(`${tracker.wsUrl}?token=${await token('carol', 2, signedAt)}`, { from: freshAddress() })
      const carolId = hexId()
      const infoHash = hexId()
      t.match(await announce(carol, { infoHash, peerId: carolId, left: 0 }), { complete: 1 })
      await sleep(expiresAt - Date.now() + 200)
      const dave = await as('dave')
      const daveId = hexId()
      dave.send(announceMessage({ infoHash, peerId: daveId, left: 9, offers: 1 }))
      await dave.next(isReply)
      const before = await rejected(tracker, 'token_expired')
      t.match(await announce(carol, { infoHash, peerId: carolId, left: 0 }), { failure_code: 'token_expired', info_hash: infoHash }, 'the next announce is refused')
      carol.send({ action: 'scrape', info_hash: infoHash })
      t.match(await carol.next((f) => isFailure(f) && f.action === 'scrape'), { failure_code: 'token_expired' }, 'so is a scrape')
      t.same(
        take(carol, (f) => isOffer(f) || isAnswer(f) || isScrape(f)),
        [],
        'no offer and no counts reached the expired socket',
      )
      t.ok(carol.isOpen, 'the socket stays open for a fresh token')
      t.ok((await rejected(tracker, 'token_expired')) >= before + 2, 'counted in /metrics')
      t.match(await announce(carol, { infoHash, peerId: carolId, left: 0, token: await token('carol') }), { info_hash: infoHash, interval: 120 }, 'a fresh token in a message lets it announce again')
      dave.send(announceMessage({ infoHash, peerId: daveId, left: 9, offers: 1 }))
      await dave.next(isReply)
      const offer = await carol.next(isOffer)
      carol.send(answerTo(infoHash, carolId, offer))
      t.match(await dave.next(isAnswer), { peer_id: carolId }, 'and the pair meets')
    })

    t.test('8. with auth a ban follows the subject, not the address or the peer_id', async (t) => {
      const shared = freshAddress()
      const mallory = await as('mallory', shared)
      await announce(mallory, { infoHash: hexId(), peerId: hexId(), left: 0 })
      for (let i = 0; i < 60; i++) mallory.send(announceMessage({ infoHash: hexId(), peerId: hexId(), left: 0 }))
      t.match(await mallory.next((f) => isFailure(f) && (f.failure_code === 'rate_limited' || f.failure_code === 'too_many_swarms')), {}, 'mallory is closed for abuse')
      await closedWithin(mallory)
      const back = await as('mallory')
      t.match(await back.next(isFailure), { failure_code: 'banned' }, 'back with a new token, address and peer_id: banned')
      t.equal((await closedWithin(back)).code, 4429)
      await honestPairMeets(
        t,
        () => as('alice', shared),
        () => as('bob'),
      )
      t.pass("alice, on mallory's address, is not banned")
    })
  })
}
