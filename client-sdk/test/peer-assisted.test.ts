import t from 'tap'
import { drain, startStack } from './stack.js'

t.test('a second listener takes most of its bytes from the first over real WebRTC, byte for byte the origin audio', async (t) => {
  const stack = await startStack(t, [{ trackId: 'song', seconds: 40 }])
  const reference = await stack.reference('song', 160)

  // The first listener plays the whole track (as fast as it can) and keeps serving it.
  const a = await stack.client({ speed: 0 })
  const pa = a.client.play('song', { quality: 160 })
  const outA = await drain(pa.stream)
  t.ok(outA.equals(reference), 'the first listener hears exactly the origin audio')
  t.equal(pa.stats()!.bytes.edge, reference.length, 'all of it from the edge')

  const b = await stack.client({ speed: 6 })
  const pb = b.client.play('song', { quality: 160 })
  const started = await pb.ready
  t.type(started.timeToFirstAudioMs, 'number')
  const outB = await drain(pb.stream)
  const stats = pb.stats()!
  t.ok(outB.equals(reference), 'the second listener hears exactly the origin audio')
  t.ok(stats.bytes.peer > stats.bytes.edge, `most bytes from the peer (peer ${stats.bytes.peer}, edge ${stats.bytes.edge})`)
  t.equal(stats.bytes.peer + stats.bytes.edge + stats.bytes.cache, reference.length)
  t.equal(stats.chunksRejected, 0)
  t.ok(a.client.stats().network!.uploadedBytes >= stats.bytes.peer, 'the first listener counted what it uploaded')
})
