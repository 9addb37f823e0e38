// What of a description leaves (src/core/sdp.ts, outgoingDescription), on real offers and answers
// from @roamhq/wrtc and from Chromium: what is cut is cut, and the trimmed descriptions still
// connect a data channel over loopback, Node to Node and Chromium to Node both ways.

import wrtc from '@roamhq/wrtc'
import { chromium, type Browser, type Page } from 'playwright-core'
import SimplePeer from 'simple-peer'
import t, { type Test } from 'tap'
import { type CandidateType, candidates, fingerprint, outgoingDescription, saneOffer } from '../src/core/sdp.js'
import { CHROMIUM } from '../../test-support/chromium.js'

const DIRECT: CandidateType[] = ['host', 'relay']

/** What a trimmed description may still say: nothing but these lines. */
function checkTrimmed(t: Test, sdp: string, what: string): void {
  const bad = sdp
    .split('\r\n')
    .filter(
      (l) =>
        l &&
        !/^(v=0|o=- \d+ \d+ IN IP4 127\.0\.0\.1|s=-|t=0 0|m=application 9 UDP\/DTLS\/SCTP webrtc-datachannel|c=IN IP4 0\.0\.0\.0|a=(group:BUNDLE .*|ice-ufrag:.*|ice-pwd:.*|ice-options:.*|fingerprint:.*|setup:.*|mid:.*|sctp-port:.*|max-message-size:.*|candidate:\d+ 1 udp \d+ \S+ \d+ typ (host|srflx|relay)( raddr 0\.0\.0\.0 rport 0)?))$/.test(
          l,
        ),
    )
  t.same(bad, [], `${what}: only the lines a data channel needs, candidates without extensions`)
  t.notMatch(sdp, / tcp |network-id|network-cost|extmap-allow-mixed|msid-semantic/, `${what}: no TCP candidate, no network id or cost, no media attributes`)
}

/** Two simple-peer/wrtc peers whose descriptions pass through `trim` on their way to each other. */
async function connectNode(trim: (sdp: string) => string): Promise<{ offer: string; answer: string }> {
  const a = new SimplePeer({ initiator: true, wrtc, trickle: false })
  const b = new SimplePeer({ wrtc, trickle: false })
  const seen = { offer: '', answer: '' }
  a.on('signal', (s: { type: string; sdp: string }) => {
    if (s.type !== 'offer') return
    seen.offer = trim(s.sdp)
    b.signal({ type: 'offer', sdp: seen.offer })
  })
  b.on('signal', (s: { type: string; sdp: string }) => {
    if (s.type !== 'answer') return
    seen.answer = trim(s.sdp)
    a.signal({ type: 'answer', sdp: seen.answer })
  })
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no connection in 10 s')), 10_000)
      b.on('data', (d: Uint8Array) => {
        if (Buffer.from(d).toString() === 'hello') {
          clearTimeout(timer)
          resolve()
        }
      })
      a.on('connect', () => a.send('hello'))
    })
  } finally {
    a.destroy()
    b.destroy()
  }
  return seen
}

t.test('@roamhq/wrtc: a trimmed offer and answer still connect, and carry only what a data channel needs', async (t) => {
  const raw = await connectNode((s) => s)
  t.match(raw.offer, / tcp .* typ host/, 'the raw offer has TCP candidates')
  t.match(raw.offer, /network-id/, 'and network ids')
  t.notMatch(raw.offer, /c=IN IP4 0\.0\.0\.0/, 'and its default address in c=')
  const trimmed = await connectNode((s) => outgoingDescription(s, DIRECT))
  for (const [what, sdp] of Object.entries(trimmed)) {
    checkTrimmed(t, sdp, what)
    t.ok(
      candidates(sdp).some((c) => c.address === '127.0.0.1'),
      `${what}: the loopback candidate stays`,
    )
    t.ok(
      candidates(sdp).every((c) => c.type === 'host'),
      `${what}: host candidates only (no STUN)`,
    )
  }
  t.ok(saneOffer(trimmed.offer), 'the trimmed offer is one a receiver answers')
  t.pass('connected with trimmed descriptions')

  // Relay-only with no TURN server: nothing is left to reach, and an offer like that is not sent.
  const relayOnly = outgoingDescription(raw.offer, ['relay'])
  t.same(candidates(relayOnly), [], 'relay-only: every host candidate is cut')
  t.notOk(saneOffer(relayOnly))
})

t.test('the rules on a description with every kind of candidate', async (t) => {
  const sdp = [
    'v=0',
    'o=mozilla...THIS_IS_SDPARTA-128.0 6254016953960183024 0 IN IP4 0.0.0.0',
    's=Firefox session',
    't=0 0',
    'a=fingerprint:sha-256 AB:CD',
    'a=group:BUNDLE 0',
    'a=ice-options:trickle',
    'a=msid-semantic:WMS *',
    'm=application 53421 UDP/DTLS/SCTP webrtc-datachannel',
    'c=IN IP4 198.51.100.7',
    'a=candidate:842163049 1 udp 1677729535 198.51.100.7 53421 typ srflx raddr 192.168.1.20 rport 53421 generation 0 network-cost 900',
    'a=candidate:1 1 udp 2122262783 3f1c0a5e-57a4-4d3e-9a1b-1c2d3e4f5a6b.local 53421 typ host generation 0 network-id 1 network-cost 900',
    'a=candidate:2 1 udp 2122194687 6a2b0c5e-1111-4d3e-9a1b-1c2d3e4f5a6b.local 53422 typ host generation 0 network-id 2 network-cost 10',
    'a=candidate:1 2 udp 2122262782 3f1c0a5e-57a4-4d3e-9a1b-1c2d3e4f5a6b.local 53423 typ host',
    'a=candidate:3 1 tcp 1518283007 3f1c0a5e-57a4-4d3e-9a1b-1c2d3e4f5a6b.local 9 typ host tcptype active',
    'a=candidate:4 1 udp 41885439 203.0.113.9 3478 typ relay raddr 198.51.100.7 rport 53421',
    'a=tls-id:8f3c',
    'a=ice-ufrag:abcd',
    'a=ice-pwd:0123456789abcdef0123456789',
    'a=setup:actpass',
    'a=mid:0',
    'a=sctp-port:5000',
    'a=max-message-size:1073741823',
    '',
  ].join('\r\n')
  const direct = outgoingDescription(sdp, ['host', 'srflx', 'relay'])
  t.match(direct, /^o=- 6254016953960183024 0 IN IP4 127\.0\.0\.1\r$/m, 'o=: no implementation name, the session id and version kept')
  t.match(direct, /^s=-\r$/m, 's=: no session name')
  t.match(direct, /^m=application 9 UDP\/DTLS\/SCTP webrtc-datachannel\r$/m)
  t.match(direct, /^c=IN IP4 0\.0\.0\.0\r$/m, 'no default address')
  t.notMatch(direct, /192\.168\.1\.20|network-|generation|tcptype|tls-id|msid/, 'no related address, extension or attribute beyond what is needed')
  t.same(
    candidates(direct).map((c) => `${c.type} ${c.address}`),
    ['srflx 198.51.100.7', 'host 3f1c0a5e-57a4-4d3e-9a1b-1c2d3e4f5a6b.local', 'host 6a2b0c5e-1111-4d3e-9a1b-1c2d3e4f5a6b.local', 'relay 203.0.113.9'],
    'UDP candidates of component 1, mDNS names kept where host candidates are allowed',
  )
  const lines = direct.split('\r\n').filter((l) => l.startsWith('a=candidate:'))
  t.same(
    lines.map((l) => l.split(' ')[0]),
    ['a=candidate:1', 'a=candidate:2', 'a=candidate:3', 'a=candidate:4'],
    'foundations renumbered',
  )
  const priorities = lines.map((l) => Number(l.split(' ')[3]))
  t.notSame(priorities, [1677729535, 2122262783, 2122194687, 41885439], 'priorities recomputed')
  t.ok(priorities[1]! > priorities[2]! && priorities[1]! > priorities[0]! && priorities[0]! > priorities[3]!, 'in the order they had: host over srflx over relay, the first host first')
  t.equal(priorities[1]! >>> 24, 126, 'the type preference kept')
  t.equal(priorities[1]! - priorities[2]!, 256, 'the local preference is the rank, not the adapter type')
  t.equal(fingerprint(direct), 'sha-256 ab:cd', 'the session-level fingerprint stays')
  t.ok(direct.endsWith('\r\n'), 'line endings as they were')
  t.same(candidates(outgoingDescription(sdp, ['relay'])), [{ type: 'relay', address: '203.0.113.9' }], 'relay-only: the relay candidate alone, no mDNS name')
  t.same(
    candidates(outgoingDescription(sdp, ['host', 'relay'])).map((c) => c.type),
    ['host', 'host', 'relay'],
    'no srflx where the mode has no STUN',
  )
  t.equal(outgoingDescription(direct, ['host', 'srflx', 'relay']), direct, 'trimming twice changes nothing')
})

t.test('Chromium: its trimmed offers and answers connect to @roamhq/wrtc peers', async (t) => {
  const launch = (args: string[]) =>
    chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', ...args] })
  // As the web player tests run it: host candidates with addresses, so loopback connects.
  const browser: Browser = await launch(['--disable-features=WebRtcHideLocalIpsWithMdns'])
  t.teardown(() => browser.close())
  const page: Page = await browser.newPage()
  await page.setContent('<!doctype html><title>sdp</title>')
  await page.evaluate(() => {
    const w = window as unknown as Record<string, unknown>
    const gathered = (pc: RTCPeerConnection) =>
      new Promise<string>((resolve) => {
        const done = () => pc.iceGatheringState === 'complete' && resolve(pc.localDescription!.sdp)
        pc.addEventListener('icegatheringstatechange', done)
        done()
      })
    const received = (pc: RTCPeerConnection) =>
      new Promise<string>((resolve) => {
        pc.addEventListener('datachannel', (e) => e.channel.addEventListener('message', (m) => resolve(String(m.data))))
      })
    w.offerer = async () => {
      const pc = new RTCPeerConnection()
      w.pc = pc
      const dc = pc.createDataChannel('x')
      w.opened = new Promise<void>((r) =>
        dc.addEventListener('open', () => {
          dc.send('hello from chromium')
          r()
        }),
      )
      await pc.setLocalDescription(await pc.createOffer())
      return gathered(pc)
    }
    w.answerer = async (offer: string) => {
      const pc = new RTCPeerConnection()
      w.pc = pc
      w.message = received(pc)
      await pc.setRemoteDescription({ type: 'offer', sdp: offer })
      await pc.setLocalDescription(await pc.createAnswer())
      return gathered(pc)
    }
    w.accept = (answer: string) => (w.pc as RTCPeerConnection).setRemoteDescription({ type: 'answer', sdp: answer })
  })

  await t.test('Chromium offers, Node answers', async (t) => {
    const raw = await page.evaluate(() => (window as unknown as { offerer(): Promise<string> }).offerer())
    t.ok(candidates(raw).length > 0, `Chromium's offer has ${candidates(raw).length} candidates`)
    const offer = outgoingDescription(raw, DIRECT)
    checkTrimmed(t, offer, 'offer')
    t.ok(saneOffer(offer))
    const node = new SimplePeer({ wrtc, trickle: false })
    t.teardown(() => node.destroy())
    const got = new Promise<string>((resolve) => node.on('data', (d: Uint8Array) => resolve(Buffer.from(d).toString())))
    const answer = new Promise<string>((resolve) => node.on('signal', (s: { type: string; sdp: string }) => s.type === 'answer' && resolve(s.sdp)))
    node.signal({ type: 'offer', sdp: offer })
    const trimmedAnswer = outgoingDescription(await answer, DIRECT)
    checkTrimmed(t, trimmedAnswer, 'answer')
    await page.evaluate((a) => (window as unknown as { accept(a: string): Promise<void> }).accept(a), trimmedAnswer)
    t.equal(await within(got, 10_000), 'hello from chromium', 'the data channel carries a message')
  })

  await t.test('Node offers, Chromium answers', async (t) => {
    const node = new SimplePeer({ initiator: true, wrtc, trickle: false })
    t.teardown(() => node.destroy())
    const offer = outgoingDescription(await new Promise<string>((resolve) => node.on('signal', (s: { type: string; sdp: string }) => s.type === 'offer' && resolve(s.sdp))), DIRECT)
    const raw = await page.evaluate((o) => (window as unknown as { answerer(o: string): Promise<string> }).answerer(o), offer)
    const answer = outgoingDescription(raw, DIRECT)
    checkTrimmed(t, answer, "Chromium's answer")
    node.on('connect', () => node.send('hello from node'))
    node.signal({ type: 'answer', sdp: answer })
    t.equal(
      await within(
        page.evaluate(() => (window as unknown as { message: Promise<string> }).message),
        10_000,
      ),
      'hello from node',
      'the data channel carries a message',
    )
  })

  await t.test("Chromium's default (mDNS names for host candidates): kept where host is allowed, cut in relay-only", async (t) => {
    const hidden = await launch([])
    t.teardown(() => hidden.close())
    const p = await hidden.newPage()
    await p.setContent('<!doctype html><title>sdp</title>')
    const raw = await p.evaluate(async () => {
      const pc = new RTCPeerConnection()
      pc.createDataChannel('x')
      await pc.setLocalDescription(await pc.createOffer())
      await new Promise<void>((r) => {
        const done = () => pc.iceGatheringState === 'complete' && r()
        pc.addEventListener('icegatheringstatechange', done)
        done()
      })
      return pc.localDescription!.sdp
    })
    const hosts = candidates(raw).filter((c) => c.type === 'host')
    t.ok(hosts.length > 0 && hosts.every((c) => c.address.endsWith('.local')), `host candidates are mDNS names: ${hosts.map((c) => c.address).join(', ')}`)
    const direct = outgoingDescription(raw, DIRECT)
    checkTrimmed(t, direct, 'mDNS offer')
    const udpHosts = raw
      .split('\r\n')
      .filter((l) => / 1 udp .* typ host/.test(l))
      .map((l) => l.split(' ')[4])
    t.ok(udpHosts.length > 0, `${udpHosts.length} UDP host candidates`)
    t.same(
      candidates(direct).map((c) => c.address),
      udpHosts,
      'the UDP mDNS candidates stay in direct mode, in their order',
    )
    t.same(candidates(outgoingDescription(raw, ['relay'])), [], 'none in relay-only')
  })
})

function within<T>(p: Promise<T>, ms: number): Promise<T> {
  return Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`nothing within ${ms} ms`)), ms).unref())])
}
