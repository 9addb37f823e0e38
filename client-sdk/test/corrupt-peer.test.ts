import { readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { drain, startStack, until } from './stack.js'

t.test('a peer that sends corrupt chunks is dropped; nothing corrupt comes out; the track completes', async (t) => {
  const stack = await startStack(t, [{ trackId: 'song', seconds: 40 }])
  const reference = await stack.reference('song', 160)
  const evil = await stack.client({ speed: 0 })
  await drain(evil.client.play('song', { quality: 160 }).stream)
  // Rot the seeder's cache on disk: every chunk past the head gets one flipped byte. It keeps
  // serving what it has, through the real SDK, as a corrupt peer would.
  const dir = join(evil.dir, 'chunks', 'c', 'song')
  const [version] = await readdir(dir)
  const files = (await readdir(join(dir, version!, '160'))).filter((f) => Number(f) >= 8)
  t.ok(files.length > 5)
  for (const f of files) {
    const path = join(dir, version!, '160', f)
    const bytes = await readFile(path)
    bytes[100]! ^= 0xff
    await writeFile(path, bytes)
  }

  const b = await stack.client({ speed: 6 })
  const pb = b.client.play('song', { quality: 160 })
  const out = await drain(pb.stream)
  const stats = pb.stats()!
  t.ok(out.equals(reference), 'the stream holds only verified audio')
  t.ok(stats.chunksRejected >= 1, `the bad chunk was rejected (${stats.chunksRejected})`)
  t.equal(b.client.stats().network!.banned, 1, 'the corrupt peer is banned for the session')
  await until(() => pb.stats()!.peersConnected === 0, 'the corrupt peer to be dropped')
})
