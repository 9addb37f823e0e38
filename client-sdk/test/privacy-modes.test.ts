// Issue 15, finding 9: the privacy modes hold. P2P off opens no tracker socket and no WebRTC
// connection; relay-only configures every RTCPeerConnection for relay candidates only and no
// host or srflx candidate leaves in any description (no TURN server runs here: the config and
// what is sent are checked, against the real tracker); the default mode's descriptions carry
// host candidates, which is what relay-only is for, trimmed of what a data channel does not need. Download-only is in security-ratio.test.ts.

import wrtc from '@roamhq/wrtc'
import t from 'tap'
import type { Test } from 'tap'
import { WebSocketServer } from 'ws'
import { swarmInfoHash } from '../../protocol/index.js'
import { candidates } from '../src/core/sdp.js'
import { deadOffer, hexId, trackerSocket } from './hostile-peer.js'
import { drain, startStack } from './stack.js'

/** @roamhq/wrtc recording the configuration of every RTCPeerConnection made. */
function recordingWrtc() {
  const configs: RTCConfiguration[] = []
  class Recorded extends wrtc.RTCPeerConnection {
    constructor(config?: RTCConfiguration) {
      super(config)
      configs.push(config ?? {})
    }
  }
  return { configs, wrtc: { ...wrtc, RTCPeerConnection: Recorded } }
}

// Nothing listens there: TCP is refused at once, so WebRTC finishes gathering (with no relay
// candidate) in a moment instead of retrying a silent UDP port for a minute.
const TURN = [{ urls: 'turn:127.0.0.1:9?transport=tcp', username: 'u', credential: 'p' }]

t.test('privacy modes', async (t) => {
  const stack = await startStack(t, [{ trackId: 'song', seconds: 12 }], { bitrates: [96] })
  const reference = await stack.reference('song', 96)
  const infoHash = await swarmInfoHash('song', (await stack.manifest('song')).version, 96)

  t.test('p2p off: no tracker socket, no RTCPeerConnection', async (t) => {
    const tracker = new WebSocketServer({ host: '127.0.0.1', port: 0 })
    await new Promise((resolve) => tracker.once('listening', resolve))
    t.teardown(() => new Promise<void>((resolve) => tracker.close(() => resolve())))
    let sockets = 0
    tracker.on('connection', () => sockets++)
    const rec = recordingWrtc()
    const port = (tracker.address() as { port: number }).port
    const { client } = await stack.client({ tracker: `ws://127.0.0.1:${port}/announce`, p2p: false, wrtc: rec.wrtc, speed: 0 })
    t.equal(client.stats().privacy.mode, 'off')
    t.ok((await drain(client.play('song', { quality: 96 }).stream)).equals(reference), 'plays from the edge')
    t.equal(sockets, 0, 'no socket reached the tracker')
    t.equal(rec.configs.length, 0, 'no RTCPeerConnection was made')
    t.equal(client.stats().network, undefined)
  })

  /** Plays with these options while an attacker in the swarm collects every description the client sends through the tracker. */
  async function collectDescriptions(t: Test, extra: Record<string, unknown>) {
    const rec = recordingWrtc()
    // The attacker holds the track (so the client's offers come to it) and offers itself (so the client answers).
    const spy = await trackerSocket(t, stack.trackerUrl)
    const spyId = hexId()
    const offerIds = [hexId(), hexId(), hexId(), hexId()]
    spy.send({ action: 'announce', info_hash: infoHash, peer_id: spyId, numwant: 0, left: 0, event: 'started' })
    const { client } = await stack.client({ speed: 1, wrtc: rec.wrtc, ...extra })
    const p = client.play('song', { quality: 96 })
    await p.ready
    // Until the tracker lists the client in the swarm: then the spy's offer reaches it.
    for (;;) {
      spy.send({ action: 'announce', info_hash: infoHash, peer_id: spyId, numwant: 0, left: 0 })
      const reply = await spy.next((f) => typeof f.interval === 'number' && !spy.frames.slice(0, -1).includes(f))
      spy.frames.splice(spy.frames.indexOf(reply), 1)
      if ((reply.incomplete as number) >= 1) break
      await new Promise((r) => setTimeout(r, 200))
    }
    // Several offers: the tracker hands them to holders first, and the client is a seeker.
    const sdp = await deadOffer()
    spy.send({ action: 'announce', info_hash: infoHash, peer_id: spyId, numwant: 4, left: 0, offers: offerIds.map((id) => ({ offer: { type: 'offer', sdp }, offer_id: id })) })
    const answer = (await spy.next((f) => offerIds.includes(f.offer_id as string) && typeof f.answer === 'object', 20_000)).answer as { sdp: string }
    p.stop()
    const offers = spy.frames.filter((f) => typeof f.offer === 'object').map((f) => (f.offer as { sdp: string }).sdp)
    return { client, rec, sdps: [answer.sdp, ...offers], offers: offers.length }
  }

  t.test('relay-only: relay policy on every RTCPeerConnection, no host or srflx candidate in what is sent', async (t) => {
    const { client, rec, sdps, offers } = await collectDescriptions(t, { relayOnly: true, iceServers: TURN })
    t.same(client.stats().privacy, { mode: 'relay-only', p2p: true, uploads: true, relayOnly: true, candidates: ['relay'] })
    t.ok(rec.configs.length > 0, `${rec.configs.length} RTCPeerConnections made`)
    for (const c of rec.configs) {
      t.equal(c.iceTransportPolicy, 'relay', 'iceTransportPolicy relay')
      t.same(c.iceServers, TURN, 'with the TURN server')
    }
    t.comment(`${sdps.length} descriptions sent (${offers} offers: without a reachable TURN server none is worth sending)`)
    for (const sdp of sdps) {
      t.same(
        candidates(sdp).filter((c) => c.type !== 'relay'),
        [],
        'no host, srflx or prflx candidate',
      )
      // (The o= line's 127.0.0.1 is a constant of libwebrtc's, not an address of this machine.)
      const text = sdp
        .split(/\r?\n/)
        .filter((l) => !l.startsWith('o='))
        .join('\n')
      t.notMatch(text, /127\.0\.0\.1|::1|192\.|10\.\d+\.\d+\.\d+|fd00:|\.local\b/, 'no local address or mDNS name anywhere else in it')
    }
  })

  t.test('the default mode sends host candidates (what relay-only withholds), and nothing a data channel does not need', async (t) => {
    const { client, rec, sdps } = await collectDescriptions(t, {})
    t.equal(client.stats().privacy.mode, 'direct')
    t.ok(
      rec.configs.every((c) => c.iceTransportPolicy === undefined),
      'no transport policy',
    )
    t.ok(
      sdps.some((sdp) => candidates(sdp).some((c) => c.type === 'host')),
      'host candidates in its descriptions',
    )
    // What @roamhq/wrtc writes and core/sdp.ts's outgoingDescription cuts (test/sdp-outgoing.test.ts has the rules).
    for (const sdp of sdps) {
      t.notMatch(sdp, / tcp \d+ .* typ /, 'no TCP candidate')
      t.notMatch(sdp, /network-id|network-cost|generation|extmap-allow-mixed|msid-semantic/, 'no network id, no attribute about media')
      t.match(sdp, /^c=IN IP4 0\.0\.0\.0\r?$/m, 'no default address in c=')
      t.match(sdp, /^m=application 9 /m, 'nor its port in m=')
    }
  })

  t.test('relayOnly without a TURN server is a bad option', async (t) => {
    await t.rejects(stack.client({ relayOnly: true }), { code: 'bad_option' })
    await t.rejects(stack.client({ relayOnly: true, iceServers: [{ urls: 'stun:127.0.0.1:3478' }] }), { code: 'bad_option' })
  })
})
