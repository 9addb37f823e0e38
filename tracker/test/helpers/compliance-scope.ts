// Track scope, bounded exposure, scrape and operator endpoints, against a running tracker (ws,
// sharded, Durable Object): what an attacker gets (no swarm outside its token, no more than N
// peers an hour, no counts without a token, no metrics without the operator token), that each
// refusal is counted in /metrics, and that honest listeners keep meeting their peers.

import type { Test } from 'tap'
import { swarmInfoHash } from '../../../protocol/index.js'
import { testOriginKey } from '../../../test-support/origin-key.js'
import { listenerLabel } from '../../src/core/tracker-core.js'
import { announce, announceMessage, isAnswer, isFailure, isOffer, isReply, isScrape, isWarning, metric, metricsText, sync, take, withTracker } from './compliance-kit.js'
import type { AnnounceFields } from './compliance-kit.js'
import type { Frame, PeerSocket } from './peer-socket.js'
import { closedWithin, freshAddress, hexId } from './peer-socket.js'
import type { StartTracker, StartedTracker } from './start-trackers.js'

type Track = { id: string; version: string; bitrate: number }

/** An announce with `chorus_track` (when given); resolves with its reply or refusal. */
async function announceTrack(peer: PeerSocket, fields: AnnounceFields, track?: Track): Promise<Frame> {
  peer.send({ ...announceMessage(fields), ...(track !== undefined && { chorus_track: track }) })
  return peer.next((f) => (isReply(f) || isFailure(f)) && f.info_hash === fields.infoHash)
}

function answerTo(infoHash: string, peerId: string, offer: Frame): Record<string, unknown> {
  return { action: 'announce', info_hash: infoHash, peer_id: peerId, to_peer_id: offer.peer_id, offer_id: offer.offer_id, answer: { type: 'answer', sdp: 'v=0 answer' } }
}

async function rejected(tracker: StartedTracker, code: string): Promise<number> {
  const n = await metric(tracker, `chorus_tracker_rejected_total{code="${code}"}`)
  return Number.isNaN(n) ? 0 : n
}

export function scopeCompliance(t: Test, start: StartTracker): void {
  t.test('track scope: a token with a tracks claim announces only in its tracks', async (t) => {
    const origin = await testOriginKey()
    const { tracker, peer } = await withTracker(t, start, { authKey: origin.publicKey, exemptLoopback: false })
    const as = async (sub: string, tracks?: string[]) => peer(`${tracker.wsUrl}?token=${await origin.token({ sub, ...(tracks && { tracks }) })}`, { from: freshAddress() })
    const trackA: Track = { id: 'track-a', version: 'v1', bitrate: 160000 }
    const trackB: Track = { id: 'track-b', version: 'v1', bitrate: 160000 }
    const hashA = await swarmInfoHash(trackA.id, trackA.version, trackA.bitrate)
    const hashB = await swarmInfoHash(trackB.id, trackB.version, trackB.bitrate)

    // A holder of track B (a token for every track), whom the scoped attacker must not reach.
    const holderB = await as('holder-b')
    t.match(await announceTrack(holderB, { infoHash: hashB, peerId: hexId(), left: 0 }, trackB), { complete: 1 })
    const before = { mismatch: await rejected(tracker, 'track_mismatch'), covered: await rejected(tracker, 'track_not_covered') }

    const scoped = await as('scoped', ['track-a'])
    const scopedId = hexId()
    t.match(
      await announceTrack(scoped, { infoHash: hashA, peerId: scopedId, left: 5 }),
      { failure_code: 'track_not_covered', info_hash: hashA },
      'a scoped token must name the track (a stock client cannot)',
    )
    t.match(await announceTrack(scoped, { infoHash: hashB, peerId: scopedId, left: 5, offers: 2 }, trackA), { failure_code: 'track_mismatch' }, "claiming track A for track B's info_hash is refused")
    t.match(await announceTrack(scoped, { infoHash: hashB, peerId: scopedId, left: 5, offers: 2 }, trackB), { failure_code: 'track_not_covered' }, 'track B is not in the token')
    t.same(take(holderB, isOffer), [], 'no offer of the scoped socket reached track B')
    await sync(holderB)
    t.same(take(holderB, isOffer), [], '(after a sync too)')
    t.ok(scoped.isOpen, 'a refusal does not close the socket')
    t.match(await announceTrack(scoped, { infoHash: hashA, peerId: scopedId, left: 5 }, trackA), { info_hash: hashA, complete: 0, incomplete: 1 }, 'its own track is served')
    t.match(await announceTrack(scoped, { infoHash: hashA, peerId: scopedId, event: 'stopped' }), { info_hash: hashA }, 'stopping needs no proof')

    const open = await as('open')
    t.match(await announceTrack(open, { infoHash: hexId(), peerId: hexId(), left: 0 }), { complete: 1 }, 'a token without a tracks claim: a stock announce (no chorus_track) is served')
    t.match(await announceTrack(open, { infoHash: hashB, peerId: hexId(), left: 0 }, trackA), { failure_code: 'track_mismatch' }, 'but a wrong chorus_track is refused there too')
    t.ok((await rejected(tracker, 'track_mismatch')) >= before.mismatch + 2, 'mismatches counted in /metrics')
    t.ok((await rejected(tracker, 'track_not_covered')) >= before.covered + 2, 'uncovered tracks counted in /metrics')

    // Two scoped listeners of track A still meet.
    const holder = await as('alice', ['track-a', 'track-c'])
    const holderId = hexId()
    await announceTrack(holder, { infoHash: hashA, peerId: holderId, left: 0 }, trackA)
    const seeker = await as('bob', ['track-a'])
    seeker.send({ ...announceMessage({ infoHash: hashA, peerId: hexId(), left: 9, offers: 1 }), chorus_track: trackA })
    await seeker.next(isReply)
    const offer = await holder.next(isOffer)
    holder.send(answerTo(hashA, holderId, offer))
    t.match(await seeker.next(isAnswer), { peer_id: holderId }, 'two listeners whose tokens cover the track meet')
  })

  t.test('bounded exposure: a listener meets at most N peers an hour', async (t) => {
    const origin = await testOriginKey()
    const N = 8
    const { tracker, peer } = await withTracker(t, start, {
      authKey: origin.publicKey,
      exemptLoopback: false,
      maxPeersLearnedPerHour: N,
      maxAnnouncesPerSecond: 200,
      maxOffersPerSecond: 1000,
    })
    const as = async (sub: string) => peer(`${tracker.wsUrl}?token=${await origin.token({ sub })}`, { from: freshAddress() })
    const swarms = Array.from({ length: 30 }, () => hexId())
    const holders: Array<{ socket: PeerSocket; id: string }> = []
    for (const [i, infoHash] of swarms.entries()) {
      const socket = await as(`holder-${i}`)
      const id = hexId()
      await announce(socket, { infoHash, peerId: id, left: 0 })
      holders.push({ socket, id })
    }
    /** Every holder answers the offers it got; returns how many holders got one. */
    async function holdersAnswer(): Promise<number[]> {
      const reached: number[] = []
      for (const [i, holder] of holders.entries()) {
        await sync(holder.socket)
        const offers = take(holder.socket, isOffer)
        if (offers.length > 0) reached.push(i)
        for (const offer of offers) holder.socket.send(answerTo(swarms[i] as string, holder.id, offer))
      }
      return reached
    }

    // The collector announces into all 30 swarms with an offer each, as a seeker that never progresses.
    const mallory = await as('mallory')
    const malloryIds = swarms.map(() => hexId())
    for (const [i, infoHash] of swarms.entries()) t.ok(isReply(await announce(mallory, { infoHash, peerId: malloryIds[i] as string, left: 1000, offers: 1 })), `announce ${i} is served`)
    const reached = await holdersAnswer()
    t.same(
      reached,
      Array.from({ length: N }, (_, i) => i),
      `its offers reached ${reached.length} holders: the first ${N}`,
    )
    await sync(mallory)
    const answers = take(mallory, isAnswer)
    t.equal(new Set(answers.map((a) => a.peer_id)).size, N, `it got answers from ${N} peers, no more`)
    const warnings = take(mallory, (f) => isWarning(f) && f.warning_code === 'peer_limit')
    t.equal(warnings.length, swarms.length - N, 'every announce past the limit got a peer_limit warning')
    t.match(warnings[0], { info_hash: swarms[N], 'warning message': /peers in the last hour/ })

    // Another socket of the same subject, from another address, shares the limit.
    const mallory2 = await as('mallory')
    mallory2.send(announceMessage({ infoHash: swarms[N + 1] as string, peerId: hexId(), left: 1000, offers: 1 }))
    await mallory2.next(isReply)
    t.match(await mallory2.next(isWarning), { warning_code: 'peer_limit' }, "the limit is the subject's, not the socket's")

    // Peers it met already are still introduced (existing pairings go on).
    mallory.send(announceMessage({ infoHash: swarms[0] as string, peerId: malloryIds[0] as string, left: 1000, offers: 1 }))
    await mallory.next(isReply)
    t.same(await holdersAnswer(), [0], 'a new offer to a peer it met already is relayed')
    t.match(await mallory.next(isAnswer), { peer_id: holders[0]?.id }, 'and answered')

    // An honest listener in the same swarms plays three tracks and gets its peers.
    const alice = await as('alice')
    const played = [N + 2, N + 3, N + 4]
    for (const i of played) {
      const infoHash = swarms[i] as string
      const aliceId = hexId()
      alice.send(announceMessage({ infoHash, peerId: aliceId, left: 1000, offers: 1 }))
      await alice.next(isReply)
      const holder = holders[i] as { socket: PeerSocket; id: string }
      const offer = await holder.socket.next(isOffer)
      holder.socket.send(answerTo(infoHash, holder.id, offer))
      t.match(await alice.next(isAnswer), { peer_id: holder.id }, `alice meets the holder of swarm ${i}`)
      await announce(alice, { infoHash, peerId: aliceId, left: 400 })
    }
    t.same(take(alice, isWarning), [], 'alice got no warning')

    const flagged = (who: string) => metric(tracker, `chorus_tracker_listener_flagged{listener="${listenerLabel(`sub:${who}`)}"}`)
    t.equal(await metric(tracker, `chorus_tracker_listener_peers_learned{listener="${listenerLabel('sub:mallory')}"}`), N, '/metrics: mallory met N peers')
    t.equal(await metric(tracker, `chorus_tracker_listener_swarms_progressing{listener="${listenerLabel('sub:mallory')}"}`), 0, 'in no swarm did it progress')
    t.equal(await flagged('mallory'), 1, 'mallory is flagged')
    t.equal(await metric(tracker, `chorus_tracker_listener_swarms_progressing{listener="${listenerLabel('sub:alice')}"}`), 3, 'alice progressed in the 3 swarms she played')
    t.equal(await flagged('alice'), 0, 'alice is not flagged')
    t.ok((await metric(tracker, 'chorus_tracker_listeners_flagged')) >= 1)
    t.ok((await metric(tracker, 'chorus_tracker_pairings_withheld_total')) >= swarms.length - N, 'withheld pairings counted')
    t.equal(await metric(tracker, 'chorus_tracker_warnings_total{code="peer_limit"}'), swarms.length - N + 1, 'warnings counted')
    const text = await metricsText(tracker)
    t.notMatch(text, /mallory|alice|127\.10\./, 'no subject or address in /metrics')
  })

  t.test('scrape: counts, only to token holders', async (t) => {
    const origin = await testOriginKey()
    const { peer, tracker } = await withTracker(t, start, { authKey: origin.publicKey })
    const infoHash = hexId()
    const holderId = hexId()
    await announce(await peer(`${tracker.wsUrl}?token=${await origin.token({ sub: 'h' })}`), { infoHash, peerId: holderId, left: 0 })
    const forged = await peer()
    forged.send({ action: 'scrape', info_hash: infoHash, token: `${await origin.token({ sub: 'x' })}x` })
    t.match(await forged.next(), { failure_code: 'unauthorized' }, 'a scrape with a bad token gets no counts')
    await closedWithin(forged)
    t.notOk(forged.queued.some(isScrape))
    const scoped = await peer()
    scoped.send({ action: 'scrape', info_hash: [infoHash, hexId()], token: await origin.token({ sub: 's', tracks: ['some-track'] }) })
    const reply = await scoped.next(isScrape)
    const body = JSON.parse(reply.raw) as { files: Record<string, unknown> }
    t.same(body.files[infoHash], { complete: 1, incomplete: 0, downloaded: 1 }, 'a token holder gets counts')
    t.notOk(reply.raw.includes(holderId) || /127\.0\.0\.1|::1/.test(reply.raw), 'no peer id, no address')
  })

  t.test('operator endpoints need the operator token', async (t) => {
    const operatorToken = 'op-7f3a9c1e5b'
    const { tracker } = await withTracker(t, start, { operatorToken })
    const get = (path: string, authorization?: string) => fetch(`${tracker.httpUrl}${path}`, authorization === undefined ? {} : { headers: { authorization } })
    for (const authorization of [undefined, 'Bearer wrong', `Bearer ${operatorToken}x`, `Basic ${operatorToken}`, operatorToken]) {
      const response = await get('/metrics', authorization)
      t.equal(response.status, 401, `/metrics with ${authorization === undefined ? 'no header' : JSON.stringify(authorization.replace(operatorToken, 'TOKEN'))}: 401`)
      t.match(await response.json(), { error: { code: 'unauthorized' } }, 'a JSON error')
    }
    const ok = await get('/metrics', `Bearer ${operatorToken}`)
    t.equal(ok.status, 200, 'the operator token opens /metrics')
    t.equal(ok.headers.get('access-control-allow-origin'), '*', 'readable by the operator page on another origin')
    const preflight = await fetch(`${tracker.httpUrl}/metrics`, {
      method: 'OPTIONS',
      headers: { origin: 'http://operator.example', 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization' },
    })
    t.equal(preflight.status, 204, 'a preflight is answered without the token')
    t.match(preflight.headers.get('access-control-allow-headers'), /authorization/i, 'and lets the page send Authorization')
    t.match(await ok.text(), /^chorus_tracker_connections \d+$/m)
    const health = (await (await get('/healthz')).json()) as Record<string, unknown>
    t.same(Object.keys(health), ['ok'], '/healthz without the token: liveness only, no figures')
  })
}
