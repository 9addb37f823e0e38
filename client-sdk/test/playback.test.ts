import t from 'tap'
import { fromBase64Url, startPoint } from '../../protocol/index.js'
import { createClient } from '../index.js'
import { drain, startStack } from './stack.js'

t.test('playback from the edge, the cache, and a prefetched next track', async (t) => {
  const stack = await startStack(t, [
    { trackId: 'one', seconds: 36 },
    { trackId: 'two', seconds: 20 },
  ])
  // The stream: the init segment, then the fragments the chunks hold (ingest writes AAC in fMP4 where ffmpeg is).
  const refOne = await stack.reference('one', 96)
  const masterOne = await stack.master('one', 96)
  const { client } = await stack.client({ p2p: false, speed: 8 })

  await t.test('a cold play comes from the edge and is byte-exact', async (t) => {
    const p = client.play('one', { quality: 96 })
    const events: string[] = []
    for (const e of ['start', 'end'] as const) p.on(e, () => events.push(e))
    t.ok((await drain(p.stream)).equals(refOne))
    await p.ready
    t.equal(p.stats()!.bytes.edge, masterOne.length, 'every chunk, once')
    // No stall count here: at 8x real time on a loaded machine a late chunk is the machine's, not
    // the SDK's. Stalls are measured by the playback benchmark (npm run bench -- playback).
    t.same(events.slice(0, 1), ['start'])
  })

  await t.test('a cached track plays without fetching a chunk', async (t) => {
    const p = client.play('one', { quality: 96 })
    const start = await p.ready
    t.ok((await drain(p.stream)).equals(refOne))
    t.same(p.stats()!.bytes, { cache: masterOne.length, peer: 0, edge: 0 })
    t.equal(start.fromCache, true)
  })

  await t.test('a play from 20 s streams the init segment, then the track from the fragment holding 20 s', async (t) => {
    const p = client.play('one', { quality: 96, from: 20 })
    const out = await drain(p.stream)
    const { quality } = await p.media
    t.equal(quality.codec, 'aac')
    if (quality.codec !== 'aac') return
    const init = fromBase64Url(quality.init)
    const sp = startPoint(quality, 20_000)
    t.ok(sp.timeMs <= 20_000 && sp.timeMs > 18_000, `the fragment at ${sp.timeMs} ms`)
    t.ok(out.subarray(0, init.length).equals(init), 'the init segment first')
    t.ok(out.subarray(init.length).equals(masterOne.subarray(sp.chunk * quality.chunkSize + sp.skip)), 'then the master from that fragment to the end')
  })

  await t.test('the queued next track is prefetched and starts from the cache', async (t) => {
    client.queue(['two'])
    const p = client.play('one', { quality: 'auto' })
    const ended = new Promise((resolve) => p.on('end', resolve))
    await drain(p.stream)
    await ended
    const next = client.play('two', { quality: 'auto' })
    const start = await next.ready
    t.equal(start.prefetched, true, 'the play was prefetched')
    t.equal(start.fromCache, true, 'its first audio came from the cache')
    await drain(next.stream)
    const stats = client.stats()
    t.equal(stats.prefetchedPlays, 1)
    t.ok(stats.prefetchedBytes > 0)
  })

  await t.test('the edge unreachable: a track played before replays from the cache', async (t) => {
    await stack.edge.dispose()
    const p = client.play('one', { quality: 96 })
    t.ok((await drain(p.stream)).equals(refOne), 'complete and byte-exact with no edge at all')
    t.same(p.stats()!.bytes, { cache: masterOne.length, peer: 0, edge: 0 })
  })
})

t.test('failures are typed errors, never a hang', async (t) => {
  const stack = await startStack(t, [{ trackId: 'one', seconds: 4 }])
  const { client } = await stack.client({ p2p: false })
  await t.rejects(client.play('nope').ready, { name: 'ChorusError', code: 'not_found' })
  await t.rejects(client.play('Bad Id!').ready, { code: /not_found|all_sources_down/ })

  const wrongKey = await createClient({ edge: stack.edge.url, keys: stack.origin.url, apiKey: 'wrong', publicKey: stack.publicKey, cache: false })
  t.teardown(() => wrongKey.close())
  await t.rejects(wrongKey.play('one').ready, { code: 'unauthorized' })

  const down = await createClient({ edge: 'http://127.0.0.1:9', keys: 'http://127.0.0.1:9', apiKey: 'k', publicKey: stack.publicKey, cache: false })
  t.teardown(() => down.close())
  await t.rejects(down.play('one').ready, { code: 'all_sources_down' })

  await t.rejects(createClient({ edge: 'not a url', keys: stack.origin.url }), { code: 'bad_option' })
})
