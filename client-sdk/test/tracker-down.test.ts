import t from 'tap'
import { drain, startStack } from './stack.js'

t.test('the tracker killed mid-track: the track completes from the edge', async (t) => {
  const stack = await startStack(t, [{ trackId: 'song', seconds: 40 }])
  const reference = await stack.reference('song', 160)
  const seeder = await stack.client({ speed: 0 })
  await drain(seeder.client.play('song', { quality: 160 }).stream)

  const b = await stack.client({ speed: 4 })
  const pb = b.client.play('song', { quality: 160 })
  const out = drain(pb.stream)
  await pb.ready
  await stack.closeTracker()
  // And the only peer leaves too: from here on only the edge can bring the rest.
  await seeder.client.close()
  t.ok((await out).equals(reference), 'complete and correct')
  t.ok(pb.stats()!.bytes.edge > 0)
})
