// What the SDK does when the tracker limits it (issue 15, bounded exposure): a listener that met
// as many peers as the tracker introduces in an hour is told `peer_limit`; the SDK says so once
// (and pauses its offers to that tracker, which could only time out) and plays on from the servers. Real tracker with
// token auth (the limit is per session subject), real origin and edge, real SDK clients and WebRTC.

import t from 'tap'
import type { ChorusWarning } from '../src/client.js'
import { drain, startStack, until } from './stack.js'

t.test('at the peer limit: one peer_limit warning, and the track plays from the edge', async (t) => {
  const stack = await startStack(
    t,
    [
      { trackId: 'one', seconds: 12 },
      { trackId: 'two', seconds: 12 },
    ],
    {
      bitrates: [160],
      tracker: (publicKey) => ({ authKey: publicKey, maxPeersLearnedPerHour: 1 }),
    },
  )
  // One seeder per track: the second track's is a peer this listener has not met.
  const seederOne = await stack.client({ speed: 0 })
  await drain(seederOne.client.play('one', { quality: 160 }).stream)
  const seederTwo = await stack.client({ speed: 0 })
  await drain(seederTwo.client.play('two', { quality: 160 }).stream)

  const warnings: ChorusWarning[] = []
  const listener = await stack.client({ speed: 4, onWarning: (w) => warnings.push(w) })
  const first = listener.client.play('one', { quality: 160 })
  t.ok((await drain(first.stream)).equals(await stack.reference('one', 160)), 'the first track plays byte for byte')
  t.ok(first.stats()!.bytes.peer > 0, `with bytes from the seeder, the one peer this listener may meet (${first.stats()!.bytes.peer})`)
  t.same(warnings, [], 'no warning yet')

  const second = listener.client.play('two', { quality: 160 })
  t.ok((await drain(second.stream)).equals(await stack.reference('two', 160)), 'the second track plays byte for byte')
  t.equal(second.stats()!.bytes.peer, 0, 'from the edge alone: the tracker introduced no new peer')
  await until(() => warnings.some((w) => w.code === 'peer_limit'), 'the peer_limit warning')
  t.equal(warnings.filter((w) => w.code === 'peer_limit').length, 1, 'said once')
  t.match(warnings.find((w) => w.code === 'peer_limit')!.message, /peers in the last hour/)
})
