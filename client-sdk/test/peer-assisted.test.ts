import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { createClient } from '../index.js'
import { API_KEY, drain, startStack, until } from './stack.js'

t.test('a second listener takes most of its bytes from the first over real WebRTC, byte for byte the origin audio', async (t) => {
  const stack = await startStack(t, [{ trackId: 'song', seconds: 40 }])
  const reference = await stack.reference('song', 160)
  // What the chunks hold (an MP4 stream adds the init segment from the manifest).
  const masterBytes = (await stack.master('song', 160)).length

  // The first listener plays the whole track (as fast as it can) and keeps serving it.
  const a = await stack.client({ speed: 0 })
  const pa = a.client.play('song', { quality: 160 })
  const outA = await drain(pa.stream)
  t.ok(outA.equals(reference), 'the first listener hears exactly the origin audio')
  t.equal(pa.stats()!.bytes.edge, masterBytes, 'all of it from the edge')

  const b = await stack.client({ speed: 6 })
  const pb = b.client.play('song', { quality: 160 })
  const started = await pb.ready
  t.type(started.timeToFirstAudioMs, 'number')
  const outB = await drain(pb.stream)
  const stats = pb.stats()!
  t.ok(outB.equals(reference), 'the second listener hears exactly the origin audio')
  t.ok(stats.bytes.peer > stats.bytes.edge, `most bytes from the peer (peer ${stats.bytes.peer}, edge ${stats.bytes.edge})`)
  t.equal(stats.bytes.peer + stats.bytes.edge + stats.bytes.cache, masterBytes)
  t.equal(stats.chunksRejected, 0)
  t.ok(a.client.stats().network!.uploadedBytes >= stats.bytes.peer, 'the first listener counted what it uploaded')
})

t.test('a returning listener serves the tracks its cache holds whole, as a holder making no offers, before it plays anything', async (t) => {
  const stack = await startStack(t, [{ trackId: 'song', seconds: 30 }])
  const reference = await stack.reference('song', 160)
  const dir = await mkdtemp(join(tmpdir(), 'chorus-sdk-returning-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const options = { edge: stack.edge.url, keys: stack.origin.url, tracker: stack.trackerUrl, apiKey: API_KEY, publicKey: stack.publicKey, cache: { dir }, speed: 0 }

  // Yesterday: the listener played the track to the end, and closed the app.
  const yesterday = await createClient(options)
  t.ok((await drain(yesterday.play('song', { quality: 160 }).stream)).equals(reference))
  await yesterday.close()

  // Today: the app starts and plays nothing yet.
  const today = await createClient(options)
  t.teardown(() => today.close())
  await until(() => (today.stats().network?.swarms ?? 0) === 1, 'the cached track to be seeded')

  const b = await stack.client({ speed: 6 })
  const pb = b.client.play('song', { quality: 160 })
  const out = await drain(pb.stream)
  t.ok(out.equals(reference), 'the newcomer hears exactly the origin audio')
  t.ok(pb.stats()!.bytes.peer > 0, `bytes from the returning listener (peer ${pb.stats()!.bytes.peer}, edge ${pb.stats()!.bytes.edge})`)
  const seeded = today.stats().network!
  t.ok(seeded.uploadedBytes > 0, 'the returning listener uploaded what it never played today')
  t.equal(seeded.offers, 0, 'a holder makes no offers: the newcomer offered')
  t.ok(b.client.stats().network!.offers > 0)
  t.equal(today.stats().plays, 0)
})
