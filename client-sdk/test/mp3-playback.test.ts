import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { runChorus } from '../../test-support/fixtures.js'
import { chunkAtTime } from '../../protocol/index.js'
import { decodeErrors, readWav } from './audio.js'
import { API_KEY, drain, startStack } from './stack.js'

t.test('an old catalog: MP3 masters (ingest without ffmpeg) still play, seek and render', async (t) => {
  const stack = await startStack(t, [{ trackId: 'old', seconds: 20 }], { codec: 'mp3', bitrates: [96] })
  const master = await stack.master('old', 96)
  const manifest = await stack.manifest('old')
  const q = manifest.qualities[0]!
  t.equal(q.codec, 'mp3')
  t.ok((await stack.reference('old', 96)).equals(master), 'an MP3 stream is the master itself')

  await t.test('a whole play is the MP3, byte for byte', async (t) => {
    const { client } = await stack.client({ p2p: false, speed: 0 })
    const p = client.play('old', { quality: 96 })
    const media = await p.media
    t.equal(media.mimeType, 'audio/mpeg')
    t.same(media.timing, { sampleRate: q.sampleRate, delay: 0, samples: Math.round((manifest.durationMs / 1000) * q.sampleRate) })
    t.ok((await drain(p.stream)).equals(master))
    t.equal(p.stats()!.bytes.edge, master.length)
  })

  await t.test('a play from 10 s and a seek go on from the chunk holding the time, with no init segment', async (t) => {
    const { client } = await stack.client({ speed: 8 })
    const from = client.play('old', { quality: 96, from: 10 })
    t.ok((await drain(from.stream)).equals(master.subarray(chunkAtTime(q, 10_000) * q.chunkSize)), 'the tail from that chunk')

    const p = client.play('old', { quality: 96 })
    const reading = drain(p.stream)
    await p.ready
    p.seek(15)
    const out = await reading
    const tail = master.subarray(chunkAtTime(q, 15_000) * q.chunkSize)
    const head = out.subarray(0, out.length - tail.length)
    t.ok(out.subarray(head.length).equals(tail), 'after the seek: the master from the chunk holding 15 s')
    t.ok(head.length > 0 && master.subarray(0, head.length).equals(head), 'before it: whole chunks from the start')
  })

  await t.test('chorus play writes the MP3 (ffmpeg decodes it cleanly) or renders it to a WAV', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'chorus-play-mp3-'))
    t.teardown(() => rm(dir, { recursive: true, force: true }))
    const common = [
      '--edge',
      stack.edge.url,
      '--keys',
      stack.origin.url,
      '--tracker',
      stack.trackerUrl,
      '--api-key',
      API_KEY,
      `--public-key=${stack.publicKey}`,
      '--cache',
      join(dir, 'cache'),
      '--speed',
      '0',
    ]
    const mp3 = await runChorus(['play', 'old', ...common, '--out', join(dir, 'old.mp3')])
    t.equal(mp3.code, 0, mp3.stderr)
    t.ok((await readFile(join(dir, 'old.mp3'))).equals(master))
    t.same(await decodeErrors(join(dir, 'old.mp3')), { code: 0, stderr: '' })
    const wav = await runChorus(['play', 'old', ...common, '--out', join(dir, 'old.wav')])
    t.equal(wav.code, 0, wav.stderr)
    const pcm = readWav(await readFile(join(dir, 'old.wav')))
    t.equal(pcm.sampleRate, q.sampleRate, `at the MP3's rate (${q.sampleRate} Hz)`)
    t.ok(Math.abs(pcm.channels[0]!.length - 20 * q.sampleRate) <= 1152, `the source's length within a frame (${pcm.channels[0]!.length} samples)`)
  })
})
