// Issue 15, finding 1: a piece header claiming a 4 MiB chunk made the SDK allocate it (8 headers,
// 32 MB per link). A hostile peer reaches a real SDK client through the real tracker over real
// WebRTC and sends pieces nobody asked for, and pieces of a requested chunk claiming another
// length: each is a protocol violation (the peer is banned, the link closed with bye), nothing is
// allocated for it, and the victim's playback goes on to the last byte.

import t from 'tap'
import { PIECE_FRAGMENT, encodePeerMessage, swarmInfoHash } from '../../protocol/index.js'
import { hostilePeer, waitFor, within } from './hostile-peer.js'
import { drain, startStack, until } from './stack.js'

t.test('pieces of chunks not requested, or of the wrong length, get the peer banned; playback goes on', async (t) => {
  const stack = await startStack(t, [{ trackId: 'song', seconds: 30 }])
  const reference = await stack.reference('song', 160)
  const manifest = await stack.manifest('song')
  const quality = manifest.qualities.find((q) => q.bitrate === 160)!
  const infoHash = await swarmInfoHash('song', manifest.version, 160)

  // The victim plays in (faster than) real time, so chunks past the head are asked of peers.
  const victim = await stack.client({ speed: 2 })
  const playback = victim.client.play('song', { quality: 160 })
  const out = drain(playback.stream)
  await playback.ready

  // Attacker 1: as soon as the channel is up, 8 piece headers of 4 MiB chunks it was never asked for.
  const h1 = await hostilePeer(t, { trackerUrl: stack.trackerUrl, infoHash, left: 0 })
  await waitFor(h1, (m) => m.type === 'bitfield', 'the victim to greet attacker 1')
  for (let i = 0; i < 8; i++) h1.send(encodePeerMessage({ type: 'piece', index: i, offset: 0, total: 4 * 1024 * 1024, data: new Uint8Array(0) }))
  await within(h1.bye, 10_000, 'the victim to close the link on attacker 1')
  t.pass('the victim closed the link (bye) on the first unrequested piece')
  let net = victim.client.stats().network!
  t.equal(net.protocolViolations, 1, 'counted as a protocol violation')
  t.equal(net.banned, 1, 'attacker 1 banned for the session')
  t.equal(net.assemblingBytes, 0, 'no buffer held for any of its headers (it was 32 MB)')

  // Attacker 2: claims every chunk, and answers the victim's first request with a piece of the
  // requested chunk that claims 4 MiB (the real chunk is 16 KiB).
  const h2 = await hostilePeer(t, { trackerUrl: stack.trackerUrl, infoHash, left: 0 })
  h2.send({ type: 'bitfield', have: new Uint8Array(Math.ceil(quality.chunkCount / 8)).fill(0xff) })
  const request = await waitFor(h2, (m) => m.type === 'request', 'the victim to request a chunk of attacker 2')
  const index = (request as { index: number }).index
  h2.send({ type: 'piece', index, offset: 0, total: 4 * 1024 * 1024, data: new Uint8Array(PIECE_FRAGMENT) })
  await within(h2.bye, 10_000, 'the victim to close the link on attacker 2')
  t.pass('the victim closed the link on a piece of the wrong length')
  net = victim.client.stats().network!
  t.equal(net.protocolViolations, 2)
  t.equal(net.banned, 2, 'attacker 2 banned too')

  // Banned peers stay out: attacker 1 offers again under the same id and gets no answer.
  h1.socket.send({ action: 'announce', info_hash: infoHash, peer_id: h1.peerId, numwant: 1, left: 0, offers: [{ offer: { type: 'offer', sdp: 'v=0' }, offer_id: 'a'.repeat(40) }] })

  const bytes = await out
  t.ok(bytes.equals(reference), 'the victim heard the whole track, byte for byte')
  const stats = playback.stats()!
  t.equal(stats.bytes.edge + stats.bytes.peer + stats.bytes.cache, quality.byteLength, 'every chunk came from somewhere honest')
  await until(() => victim.client.stats().network!.assemblingBytes === 0, 'no partial chunk left')
  t.equal(h1.pieceBytes + h2.pieceBytes, 0, 'the attackers got nothing from the victim')
})
