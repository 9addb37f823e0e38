// The tracker compliance suite: the protocol, Spotify's swarm rules, bad input, every limit and
// auth, run the same way against every adapter (see ws-server.test.ts, durable-object.test.ts);
// the security rules (issue 15) are in compliance-security.ts, run from here.

import type { Test } from 'tap'
import { forgerOf, testOriginKey } from '../../../test-support/origin-key.js'
import { TRACKER_FAILURE_CODES } from '../../../protocol/index.js'
import { announce, announceMessage, eventually, isAnswer, isFailure, isOffer, isReply, isScrape, isWarning, metric, sync, take, withTracker } from './compliance-kit.js'
import { scopeCompliance } from './compliance-scope.js'
import { securityCompliance } from './compliance-security.js'
import { fuzzMessages } from './fuzz.js'
import type { PeerSocket } from './peer-socket.js'
import { binaryId, closedWithin, connectPeer, hexId } from './peer-socket.js'
import type { StartTracker } from './start-trackers.js'

export function trackerCompliance(t: Test, start: StartTracker): void {
  t.test('protocol and swarm rules', async (t) => {
    const { tracker, peer } = await withTracker(t, start, { maxAnnouncesPerSecond: 100_000, maxSwarmsPerSocket: 64 })

    t.test('an announce gets interval, complete and incomplete, echoing the id form it used', async (t) => {
      const p = await peer()
      const binaryHash = binaryId()
      const reply = await announce(p, { infoHash: binaryHash, peerId: binaryId(), left: 0, event: 'started' })
      t.match(reply, { action: 'announce', info_hash: binaryHash, complete: 1, incomplete: 0 })
      t.ok(typeof reply.interval === 'number' && reply.interval > 0)
      const hexHash = hexId()
      const hexReply = await announce(p, { infoHash: hexHash, peerId: hexId(), left: 100, event: 'started' })
      t.match(hexReply, { action: 'announce', info_hash: hexHash, complete: 0, incomplete: 1 })
    })

    t.test('an offer reaches a holder and its answer comes back to the offerer', async (t) => {
      const infoHash = binaryId()
      const holder = await peer()
      const holderId = binaryId()
      await announce(holder, { infoHash, peerId: holderId, left: 0, event: 'started' })
      const seeker = await peer()
      const seekerId = binaryId()
      const sent = announceMessage({ infoHash, peerId: seekerId, left: 1000, event: 'started', offers: 1 })
      seeker.send(sent)
      t.match(await seeker.next(isReply), { complete: 1, incomplete: 1 })
      const offer = await holder.next(isOffer)
      const sentOffer = (sent.offers as Array<{ offer: unknown; offer_id: string }>)[0]
      t.same(
        { info_hash: offer.info_hash, peer_id: offer.peer_id, offer: offer.offer, offer_id: offer.offer_id },
        { info_hash: infoHash, peer_id: seekerId, offer: sentOffer?.offer, offer_id: sentOffer?.offer_id },
      )
      holder.send({ action: 'announce', info_hash: infoHash, peer_id: holderId, to_peer_id: seekerId, offer_id: offer.offer_id, answer: { type: 'answer', sdp: 'v=0 test-answer' } })
      const answer = await seeker.next(isAnswer)
      t.same(
        { info_hash: answer.info_hash, peer_id: answer.peer_id, answer: answer.answer, offer_id: answer.offer_id },
        { info_hash: infoHash, peer_id: holderId, answer: { type: 'answer', sdp: 'v=0 test-answer' }, offer_id: offer.offer_id },
      )
    })

    t.test('relays use the id form of the receiving client', async (t) => {
      const infoHash = hexId()
      const holder = await peer()
      await announce(holder, { infoHash: Buffer.from(infoHash, 'hex').toString('latin1'), peerId: binaryId(), left: 0 })
      const seeker = await peer()
      const seekerId = hexId()
      seeker.send(announceMessage({ infoHash, peerId: seekerId, left: 5, offers: 1 }))
      await seeker.next(isReply)
      const offer = await holder.next(isOffer)
      t.equal(offer.info_hash, Buffer.from(infoHash, 'hex').toString('latin1'))
      t.equal(offer.peer_id, Buffer.from(seekerId, 'hex').toString('latin1'))
    })

    t.test('an announce reaches at most 10 peers, one offer each', async (t) => {
      const infoHash = binaryId()
      const holders = await Promise.all(Array.from({ length: 12 }, () => peer()))
      for (const h of holders) await announce(h, { infoHash, peerId: binaryId(), left: 0 })
      const seeker = await peer()
      seeker.send(announceMessage({ infoHash, peerId: binaryId(), left: 9, offers: 12 }))
      await seeker.next(isReply)
      await Promise.all(holders.map(sync))
      const counts = holders.map((h) => take(h, isOffer).length)
      t.equal(
        counts.reduce((a, b) => a + b, 0),
        10,
      )
      t.ok(counts.every((c) => c <= 1))
    })

    t.test('offers go to holders before seekers', async (t) => {
      const infoHash = binaryId()
      const holders = await Promise.all(Array.from({ length: 3 }, () => peer()))
      const seekers = await Promise.all(Array.from({ length: 5 }, () => peer()))
      for (const h of holders) await announce(h, { infoHash, peerId: binaryId(), left: 0 })
      for (const s of seekers) await announce(s, { infoHash, peerId: binaryId(), left: 50 })
      const offerer = await peer()
      const offererId = binaryId()
      offerer.send(announceMessage({ infoHash, peerId: offererId, left: 50, offers: 3 }))
      await offerer.next(isReply)
      await Promise.all([...holders, ...seekers].map(sync))
      t.same(
        holders.map((h) => take(h, isOffer).length),
        [1, 1, 1],
        'every holder got one',
      )
      t.same(
        seekers.map((s) => take(s, isOffer).length),
        [0, 0, 0, 0, 0],
        'no seeker got one',
      )
      offerer.send(announceMessage({ infoHash, peerId: offererId, left: 50, offers: 5 }))
      await offerer.next(isReply)
      await Promise.all([...holders, ...seekers].map(sync))
      t.same(
        holders.map((h) => take(h, isOffer).length),
        [1, 1, 1],
        'holders first',
      )
      t.equal(
        seekers.map((s) => take(s, isOffer).length).reduce((a, b) => a + b, 0),
        2,
        'then seekers',
      )
    })

    t.test('among holders, offers prefer the network the client declares', async (t) => {
      const infoHash = binaryId()
      const near = await Promise.all(Array.from({ length: 3 }, () => peer()))
      const far = await Promise.all(Array.from({ length: 3 }, () => peer()))
      for (const h of near) await announce(h, { infoHash, peerId: binaryId(), left: 0, network: 'AS64500' })
      for (const h of far) await announce(h, { infoHash, peerId: binaryId(), left: 0, network: 'AS64501' })
      const offerer = await peer()
      offerer.send(announceMessage({ infoHash, peerId: binaryId(), left: 10, offers: 3, network: 'AS64500' }))
      await offerer.next(isReply)
      await Promise.all([...near, ...far].map(sync))
      t.same(
        near.map((h) => take(h, isOffer).length),
        [1, 1, 1],
      )
      t.same(
        far.map((h) => take(h, isOffer).length),
        [0, 0, 0],
      )
    })

    t.test('a swarm remembers its 20 most recently active holders', async (t) => {
      const infoHash = binaryId()
      const holders = await Promise.all(Array.from({ length: 22 }, () => peer()))
      const ids = holders.map(() => binaryId())
      for (let i = 0; i < holders.length; i++) await announce(holders[i] as PeerSocket, { infoHash, peerId: ids[i] as string, left: 0 })
      const probe = await peer()
      const probeId = binaryId()
      const reply = await announce(probe, { infoHash, peerId: probeId, left: 1 })
      t.equal(reply.complete, 20)
      // The two oldest were forgotten: 20 offers can only reach the 20 remembered.
      probe.send(announceMessage({ infoHash, peerId: probeId, left: 1, offers: 10 }))
      await probe.next(isReply)
      probe.send(announceMessage({ infoHash, peerId: probeId, left: 1, offers: 10 }))
      await probe.next(isReply)
      await Promise.all(holders.map(sync))
      t.same(
        holders.slice(0, 2).map((h) => take(h, isOffer).length),
        [0, 0],
        'forgotten holders get no offers',
      )
      t.equal(
        holders.slice(2).reduce((n, h) => n + take(h, isOffer).length, 0),
        20,
      )
    })

    t.test('offers and answers stay inside their swarm', async (t) => {
      const swarmA = binaryId()
      const swarmB = binaryId()
      const inB = await peer()
      const inBId = binaryId()
      await announce(inB, { infoHash: swarmB, peerId: inBId, left: 0 })
      const inA = await peer()
      const inAId = binaryId()
      await announce(inA, { infoHash: swarmA, peerId: inAId, left: 0 })
      const offerer = await peer()
      offerer.send(announceMessage({ infoHash: swarmA, peerId: binaryId(), left: 1, offers: 5 }))
      await offerer.next(isReply)
      await sync(inB)
      t.equal(take(inB, isOffer).length, 0, 'no offer crosses into another swarm')
      inA.send({ action: 'announce', info_hash: swarmA, peer_id: inAId, to_peer_id: inBId, offer_id: binaryId(), answer: { type: 'answer', sdp: 'x' } })
      t.match(await inA.next(isFailure), { failure_code: 'unknown_offer', info_hash: swarmA }, 'no offer came from there')
      await sync(inB)
      t.equal(take(inB, isAnswer).length, 0, 'no answer crosses into another swarm')
      const outsider = await peer()
      outsider.send({ action: 'announce', info_hash: swarmB, peer_id: binaryId(), to_peer_id: inBId, offer_id: binaryId(), answer: { type: 'answer', sdp: 'x' } })
      t.match(await outsider.next(isFailure), { failure_code: 'not_in_swarm', info_hash: swarmB })
      await sync(inB)
      t.equal(take(inB, isAnswer).length, 0, 'a socket outside the swarm cannot answer into it')
    })

    t.test('stopped and closed peers leave the swarm', async (t) => {
      const infoHash = binaryId()
      const a = await peer()
      const aId = binaryId()
      await announce(a, { infoHash, peerId: aId, left: 0 })
      const b = await peer()
      await announce(b, { infoHash, peerId: binaryId(), left: 0 })
      t.match(await announce(a, { infoHash, peerId: aId, event: 'stopped' }), { complete: 1 })
      await b.close()
      const c = await peer()
      const cId = binaryId()
      await eventually(async () => (await announce(c, { infoHash, peerId: cId, left: 7 })).complete === 0, 'closed holder forgotten')
      t.pass('both gone')
    })

    t.test('scrape reports each swarm in the form asked', async (t) => {
      const infoHash = hexId()
      const p = await peer()
      await announce(p, { infoHash, peerId: hexId(), left: 0 })
      const empty = binaryId()
      p.send({ action: 'scrape', info_hash: [infoHash, empty] })
      const reply = await p.next(isScrape)
      t.same(reply.files, { [infoHash]: { complete: 1, incomplete: 0, downloaded: 1 }, [empty]: { complete: 0, incomplete: 0, downloaded: 0 } })
    })

    t.test('a text "ping" gets "pong"', async (t) => {
      const p = await peer()
      p.send('ping')
      t.equal((await p.next()).raw, 'pong')
    })

    t.test('bad input gets a failure reason and the socket stays usable', async (t) => {
      const p = await peer()
      const cases: Array<[unknown, string]> = [
        ['{not json', 'invalid_json'],
        [Buffer.from([0, 1, 2, 255]), 'binary_frame'],
        ['[1,2,3]', 'invalid_field'],
        ['"announce"', 'invalid_field'],
        [{ action: 'connect' }, 'unknown_action'],
        [{ info_hash: hexId() }, 'unknown_action'],
        [{ action: 'announce', info_hash: 'short', peer_id: binaryId() }, 'invalid_field'],
        [{ action: 'announce', info_hash: hexId(), peer_id: 'x'.repeat(21) }, 'invalid_field'],
        [{ action: 'announce', info_hash: 'z'.repeat(40), peer_id: hexId() }, 'invalid_field'],
        [{ action: 'announce', info_hash: 42, peer_id: hexId() }, 'invalid_field'],
        [{ action: 'announce', info_hash: hexId(), peer_id: hexId(), left: 'lots' }, 'invalid_field'],
        [{ action: 'announce', info_hash: hexId(), peer_id: hexId(), event: 'exploded' }, 'invalid_field'],
        [{ action: 'announce', info_hash: hexId(), peer_id: hexId(), offers: 'many' }, 'invalid_field'],
        [{ action: 'announce', info_hash: hexId(), peer_id: hexId(), offers: [{ offer: { type: 'answer', sdp: '' }, offer_id: hexId() }] }, 'invalid_field'],
        [{ action: 'announce', info_hash: hexId(), peer_id: hexId(), offers: [{ offer: { type: 'offer', sdp: 'x' }, offer_id: 7 }] }, 'invalid_field'],
        [{ action: 'announce', info_hash: hexId(), peer_id: hexId(), answer: 'yes', to_peer_id: hexId(), offer_id: hexId() }, 'invalid_field'],
        [{ action: 'announce', info_hash: hexId(), peer_id: hexId(), answer: { type: 'answer', sdp: '' }, offer_id: hexId() }, 'invalid_field'],
        [{ action: 'announce', info_hash: hexId(), peer_id: hexId(), network: 'n'.repeat(65) }, 'invalid_field'],
        [{ action: 'scrape' }, 'invalid_field'],
        [{ action: 'scrape', info_hash: [hexId(), 'nope'] }, 'invalid_field'],
      ]
      for (const [message, code] of cases) {
        p.send(message)
        const reply = await p.next()
        t.equal(reply.failure_code, code, `${String(Buffer.isBuffer(message) ? 'binary frame' : JSON.stringify(message)).slice(0, 60)} -> ${code}`)
        t.type(reply['failure reason'], 'string')
      }
      const ok = hexId()
      t.match(await announce(p, { infoHash: ok, peerId: hexId(), left: 0 }), { info_hash: ok, complete: 1 })
      t.ok(p.isOpen)
    })

    t.test('fuzz: thousands of malformed messages, each refused with a failure reason', async (t) => {
      const codes = new Set<string>(TRACKER_FAILURE_CODES)
      let p = await peer()
      let refused = 0
      let replies = 0
      for (const message of fuzzMessages(0xc0ffee, 3000)) {
        p.send(message)
        const reply = await p.next()
        if (isFailure(reply)) {
          if (!codes.has(String(reply.failure_code))) t.fail(`unknown failure code ${String(reply.failure_code)}`)
          refused++
        } else if (isReply(reply) || isScrape(reply) || isWarning(reply)) {
          replies++
        } else {
          t.fail(`unexpected frame ${reply.raw.slice(0, 100)}`)
        }
        if (!p.isOpen || (isFailure(reply) && ['too_many_swarms', 'message_too_large'].includes(String(reply.failure_code)))) {
          await closedWithin(p)
          p = await peer()
        }
      }
      t.ok(refused > 2000, `${refused} refused, ${replies} accepted by chance`)
      const healthy = await peer()
      const infoHash = hexId()
      t.match(await announce(healthy, { infoHash, peerId: hexId(), left: 0 }), { info_hash: infoHash, complete: 1 })
    })

    t.test('/metrics counts connections, swarms, peers, announces and refusals', async (t) => {
      const p = await peer()
      await announce(p, { infoHash: hexId(), peerId: hexId(), left: 0 })
      p.send('{bad')
      await p.next(isFailure)
      t.ok((await metric(tracker, 'chorus_tracker_connections')) >= 1)
      t.ok((await metric(tracker, 'chorus_tracker_swarms')) >= 1)
      t.ok((await metric(tracker, 'chorus_tracker_peers')) >= 1)
      t.ok((await metric(tracker, 'chorus_tracker_announces_total')) >= 1)
      t.ok((await metric(tracker, 'chorus_tracker_offers_relayed_total')) >= 1)
      t.ok((await metric(tracker, 'chorus_tracker_rejected_total{code="invalid_json"}')) >= 1)
    })
  })

  t.test('limits close only the offending socket', async (t) => {
    const { peer } = await withTracker(t, start, { maxMessageChars: 2048, maxSwarmsPerSocket: 3, maxAnnouncesPerSecond: 10, scrape: false })

    async function bystander(t: Test): Promise<{ check: () => Promise<void> }> {
      const b = await peer()
      const infoHash = hexId()
      const peerId = hexId()
      await announce(b, { infoHash, peerId, left: 0 })
      return {
        async check() {
          t.ok(b.isOpen, 'the bystander is still open')
          t.match(await announce(b, { infoHash, peerId, left: 0 }), { info_hash: infoHash }, 'and still served')
        },
      }
    }

    t.test('message size', async (t) => {
      const b = await bystander(t)
      const p = await peer()
      p.send(JSON.stringify({ ...announceMessage({ infoHash: hexId(), peerId: hexId() }), pad: 'x'.repeat(3000) }))
      t.match(await p.next(isFailure), { failure_code: 'message_too_large' })
      t.equal((await closedWithin(p)).code, 4413)
      await b.check()
    })

    t.test('swarms per socket', async (t) => {
      const b = await bystander(t)
      const p = await peer()
      const peerId = hexId()
      for (let i = 0; i < 3; i++) await announce(p, { infoHash: hexId(), peerId, left: 0 })
      const fourth = hexId()
      t.match(await announce(p, { infoHash: fourth, peerId, left: 0 }), { failure_code: 'too_many_swarms', info_hash: fourth })
      t.equal((await closedWithin(p)).code, 4400)
      await b.check()
    })

    t.test('announces per second', async (t) => {
      const b = await bystander(t)
      const p = await peer()
      const infoHash = hexId()
      const peerId = hexId()
      // Three times the limit in one burst: over it however slowly the machine runs.
      for (let i = 0; i < 30; i++) p.send(announceMessage({ infoHash, peerId, left: 0 }))
      t.match(await p.next(isFailure), { failure_code: 'rate_limited' })
      t.equal((await closedWithin(p)).code, 4429)
      await b.check()
    })

    t.test('scrape turned off', async (t) => {
      const p = await peer()
      p.send({ action: 'scrape', info_hash: hexId() })
      t.match(await p.next(isFailure), { failure_code: 'scrape_disabled', action: 'scrape' })
      t.ok(p.isOpen)
    })
  })

  t.test('connection limit', async (t) => {
    const { tracker, peer } = await withTracker(t, start, { maxConnections: 3 })
    const first = await Promise.all([peer(), peer(), peer()])
    const extra = await peer()
    t.match(await extra.next(isFailure), { failure_code: 'too_many_connections' })
    t.equal((await closedWithin(extra)).code, 4503)
    for (const p of first) t.match(await announce(p, { infoHash: hexId(), peerId: hexId(), left: 0 }), { complete: 1 }, 'the others go on')
    await first[0]?.close()
    await eventually(async () => (await metric(tracker, 'chorus_tracker_connections')) === 2, 'close seen')
    const next = await peer()
    t.match(await announce(next, { infoHash: hexId(), peerId: hexId(), left: 0 }), { complete: 1 }, 'a freed slot is taken')
  })

  t.test('idle timeout with keep-alive', async (t) => {
    const { tracker, peer } = await withTracker(t, start, { idleTimeoutMs: 1000 })
    const silent = await connectPeer(tracker.wsUrl, { autoPong: false })
    t.teardown(() => silent.close())
    const alive = await peer()
    // Text pings keep a socket alive on every adapter; protocol pongs (answered by ws) too where the server pings.
    const timer = setInterval(() => alive.send('ping'), 150)
    t.teardown(() => clearInterval(timer))
    t.match(await silent.next(isFailure), { failure_code: 'idle_timeout' })
    t.equal((await closedWithin(silent)).code, 4408)
    await new Promise((r) => setTimeout(r, 1500))
    t.ok(alive.isOpen, 'a socket that keeps alive stays open')
    clearInterval(timer)
    if (tracker.protocolPings) {
      const ponging = await peer()
      await new Promise((r) => setTimeout(r, 2500))
      t.ok(ponging.isOpen, 'answering protocol pings is enough')
    }
  })

  t.test('auth', async (t) => {
    const origin = await testOriginKey()
    const { tracker, peer } = await withTracker(t, start, { authKey: origin.publicKey })
    const token = await origin.token({ sub: 'listener-1' })

    t.test('without a token the socket is refused and closed', async (t) => {
      const p = await peer()
      const infoHash = hexId()
      p.send(announceMessage({ infoHash, peerId: hexId(), left: 0 }))
      t.match(await p.next(isFailure), { failure_code: 'unauthorized' })
      t.equal((await closedWithin(p)).code, 4401)
    })

    t.test('a token in the query string', async (t) => {
      const p = await peer(`${tracker.wsUrl}?token=${token}`)
      const infoHash = hexId()
      t.match(await announce(p, { infoHash, peerId: hexId(), left: 0 }), { info_hash: infoHash, complete: 1 })
    })

    t.test('a token in the first message, then none needed', async (t) => {
      const p = await peer()
      const infoHash = hexId()
      const peerId = hexId()
      t.match(await announce(p, { infoHash, peerId, left: 0, token }), { complete: 1 })
      t.match(await announce(p, { infoHash: hexId(), peerId, left: 0 }), { complete: 1 })
    })

    t.test('bad, expired and wrong-scope tokens', async (t) => {
      const cases: Array<[string, string]> = [
        [`${token}x`, 'unauthorized'],
        [await origin.token({ sub: 'l', ttlSec: 60 }, Date.now() - 3_600_000), 'token_expired'],
        [await origin.token({ sub: 'l', scope: ['play'] }), 'forbidden'],
        [await origin.token({ sub: 'l', aud: ['edge'] }), 'forbidden'],
        [await (await forgerOf(origin)).token({ sub: 'l' }), 'unauthorized'],
      ]
      for (const [bad, code] of cases) {
        const viaQuery = await peer(`${tracker.wsUrl}?token=${encodeURIComponent(bad)}`)
        t.match(await viaQuery.next(isFailure), { failure_code: code }, `query: ${code}`)
        await closedWithin(viaQuery)
        const viaMessage = await peer()
        viaMessage.send(announceMessage({ infoHash: hexId(), peerId: hexId(), left: 0, token: bad }))
        t.match(await viaMessage.next(isFailure), { failure_code: code }, `message: ${code}`)
        await closedWithin(viaMessage)
      }
    })
  })

  securityCompliance(t, start)
  scopeCompliance(t, start)
}
