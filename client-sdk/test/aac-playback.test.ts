import t from 'tap'
import { type Mp4Quality, fromBase64Url, startPoint } from '../../protocol/index.js'
import { decodeErrors } from './audio.js'
import { startStack } from './stack.js'

/** Reads a stream piece by piece, failing (instead of hanging) if it does not end in time. */
async function pieces(stream: ReadableStream<Uint8Array>, timeoutMs = 30_000): Promise<Buffer[]> {
  const out: Buffer[] = []
  const reading = (async () => {
    for await (const p of stream as unknown as AsyncIterable<Uint8Array>) out.push(Buffer.from(p))
  })()
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the stream did not end within ${timeoutMs} ms (${out.length} pieces so far)`)), timeoutMs)
  })
  try {
    await Promise.race([reading, timeout])
  } finally {
    clearTimeout(timer)
  }
  return out
}

/**
 * Splits a stream at each init segment (a piece of its own): one run per start. Each run is
 * the init segment and a contiguous stretch of the master beginning at a fragment.
 */
function runs(all: Buffer[], init: Uint8Array): Buffer[][] {
  const out: Buffer[][] = []
  for (const p of all) {
    if (p.equals(init)) out.push([])
    else out.at(-1)?.push(p)
  }
  return out
}

t.test('AAC through the Node SDK: a fragmented MP4 stream, init segment first, whole fragments, seeks restart it', async (t) => {
  const stack = await startStack(t, [{ trackId: 'song', seconds: 30 }], { bitrates: [160] })
  const master = await stack.master('song', 160)
  const manifest = await stack.manifest('song')
  const q = manifest.qualities[0]! as Mp4Quality
  t.equal(q.codec, 'aac', 'ingest wrote AAC (ffmpeg is there)')
  const init = fromBase64Url(q.init)
  const fragmentStarts = new Set([...q.fragments.map(([, b]) => b), q.byteLength])

  await t.test('a whole play: init + every fragment, byte-exact, and ffmpeg decodes it without a word', async (t) => {
    const { client } = await stack.client({ p2p: false, speed: 0 })
    const p = client.play('song', { quality: 160 })
    const media = await p.media
    t.equal(media.mimeType, 'audio/mp4; codecs="mp4a.40.2"')
    t.same(media.timing, { sampleRate: 44100, delay: q.delay, samples: 30 * 44100 })
    const out = await pieces(p.stream)
    t.ok(out[0]!.equals(init), 'the first piece is the init segment, alone')
    const all = Buffer.concat(out)
    t.ok(all.equals(Buffer.concat([init, master])), 'init + the decrypted master, byte for byte')
    let at = 0
    const ends = out.slice(1).map((piece) => (at += piece.length))
    t.ok(
      ends.every((end) => fragmentStarts.has(end)),
      'every piece ends where a fragment ends',
    )
    t.same(await decodeErrors(all, 'mp4'), { code: 0, stderr: '' }, 'ffmpeg -v error decodes it and prints nothing')
    t.equal(p.stats()!.bytes.edge, master.length)
  })

  await t.test('seek to the middle: the stream goes on with the init segment and the fragment holding that time', async (t) => {
    // Peers on (none there): beyond the head only what turns urgent is fetched, so the stream
    // is still open when the seek comes.
    const { client } = await stack.client({ speed: 8 })
    const p = client.play('song', { quality: 160 })
    const reading = pieces(p.stream)
    await p.ready
    p.seek(15)
    const out = await reading
    const [before, after, ...more] = runs(out, init)
    t.equal(more.length, 0, 'two runs: from the start, then from the seek')
    const head = Buffer.concat(before!)
    t.ok(head.length > 0 && master.subarray(0, head.length).equals(head) && fragmentStarts.has(head.length), 'before the seek: whole fragments from the start')
    const sp = startPoint(q, 15_000)
    t.ok(sp.timeMs <= 15_000 && sp.timeMs > 13_900, `the fragment at ${sp.timeMs} ms`)
    const tail = Buffer.concat(after!)
    t.ok(tail.equals(master.subarray(sp.chunk * q.chunkSize + sp.skip)), 'after it: the master from that fragment to the end')
    t.same(await decodeErrors(Buffer.concat([init, tail]), 'mp4'), { code: 0, stderr: '' }, 'the restarted stream decodes without errors')
    t.same(await decodeErrors(Buffer.concat([init, head]), 'mp4'), { code: 0, stderr: '' }, 'and so does what came before it')
  })

  await t.test('seek forward then back: each restart is whole fragments; the last runs from the fragment asked for to the end', async (t) => {
    const { client } = await stack.client({ speed: 8 })
    const p = client.play('song', { quality: 160 })
    const reading = pieces(p.stream)
    await p.ready
    p.seek(20)
    await new Promise((r) => setTimeout(r, 30))
    p.seek(3)
    const out = await reading
    const all = runs(out, init)
    t.ok(all.length >= 2 && all.length <= 3, `${all.length} runs`)
    for (const run of all.slice(0, -1)) {
      const bytes = Buffer.concat(run)
      const start = master.indexOf(bytes.subarray(0, 64))
      t.ok(bytes.length === 0 || (fragmentStarts.has(start) && fragmentStarts.has(start + bytes.length) && master.subarray(start, start + bytes.length).equals(bytes)), 'a stretch of whole fragments')
    }
    const sp = startPoint(q, 3000)
    t.ok(Buffer.concat(all.at(-1)!).equals(master.subarray(sp.chunk * q.chunkSize + sp.skip)), 'the last run: from the fragment at 3 s to the end (chunks delivered before come back from the cache)')
  })
})

t.test('a start in the last fragment, which begins inside an earlier chunk than the seek table says: that chunk is fetched', async (t) => {
  // Small chunks: the last fragment (about a second) spans several, all with its time in the seek table.
  const stack = await startStack(t, [{ trackId: 'song', seconds: 12 }], { bitrates: [160], chunkSize: 4096 })
  const master = await stack.master('song', 160)
  const manifest = await stack.manifest('song')
  const q = manifest.qualities[0]! as Mp4Quality
  const init = fromBase64Url(q.init)
  const [lastMs] = q.fragments.at(-1)!
  const sp = startPoint(q, lastMs + 10)
  // The scheduler's chunkAt: the last chunk whose seek-table time is at or before the time.
  const bySeekTable = q.seek.findLastIndex((ms) => ms <= lastMs + 10)
  t.ok(bySeekTable > sp.chunk, `the seek table alone points past the fragment's chunk (${bySeekTable} > ${sp.chunk})`)

  // A real-time speaker (sped up) holds the playhead at the fragment's time, in the seek table's last chunk.
  for (const p2p of [false, true]) {
    const { client } = await stack.client({ p2p, speed: 4 })
    const p = client.play('song', { quality: 160, from: (lastMs + 10) / 1000 })
    const ended = new Promise((resolve) => p.on('end', resolve))
    const out = Buffer.concat(await pieces(p.stream, 15_000))
    t.ok(out.equals(Buffer.concat([init, master.subarray(sp.chunk * q.chunkSize + sp.skip)])), `init + the last fragment (p2p ${p2p})`)
    await ended
    t.equal(p.stats()!.positionMs, manifest.durationMs, 'played to the end')
  }
})
