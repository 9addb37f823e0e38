import { createHash } from 'node:crypto'
import t from 'tap'
import { MANIFEST_SCHEMA, type Mp4Quality, chunkAtTime, fragmentSeekTable, mediaType, parseManifest, playableUntilMs, startPoint } from '../index.js'

/** A quality with irregular fragments (a few shorter than a chunk, a few longer), as a real encoder makes them. */
function mp4Quality(): Mp4Quality {
  const chunkSize = 1024
  const fragments: [number, number][] = []
  let byte = 0
  for (let i = 0; i < 40; i++) {
    fragments.push([i * 1000, byte])
    byte += 300 + ((i * 7919) % 1700)
  }
  const byteLength = byte
  const chunkCount = Math.ceil(byteLength / chunkSize)
  return {
    bitrate: 160,
    codec: 'aac',
    mime: 'audio/mp4',
    codecs: 'mp4a.40.2',
    init: 'AAAAGGZ0eXBpc29t',
    sampleRate: 44100,
    channels: 2,
    byteLength,
    chunkSize,
    chunkCount,
    nonce: '0011223344556677',
    hashes: Array.from({ length: chunkCount }, (_, i) => createHash('sha256').update(String(i)).digest('hex')),
    seek: fragmentSeekTable(fragments, chunkSize, chunkCount),
    fragments,
    delay: 1024,
    samples: 40 * 44100,
  }
}

const manifest = (q: unknown) => ({
  schema: MANIFEST_SCHEMA,
  trackId: 'demo-01',
  version: 'abc123def',
  title: 'T',
  artist: 'A',
  album: '',
  durationMs: 40000,
  createdAt: '2026-12-03T00:00:00.000Z',
  qualities: [q],
})

t.test('an MP4 quality parses and keeps every field', async (t) => {
  const q = mp4Quality()
  t.same(parseManifest(JSON.parse(JSON.stringify(manifest(q)))).qualities[0], q)
  t.equal(mediaType(q), 'audio/mp4; codecs="mp4a.40.2"')
})

t.test('a bad MP4 quality is an invalid_manifest', async (t) => {
  const bad: Array<[string, (q: Record<string, unknown>) => void]> = [
    ['codec with the wrong mime', (q) => (q.mime = 'audio/mpeg')],
    ['codecs with a quote', (q) => (q.codecs = 'mp4a"')],
    ['init not base64url', (q) => (q.init = 'a+b/')],
    ['no fragments', (q) => (q.fragments = [])],
    ['fragments not at byte 0', (q) => ((q.fragments as number[][])[0]![1] = 5)],
    ['fragments descending', (q) => ((q.fragments as number[][])[3]![1] = 1)],
    ['fragment past the end', (q) => (q.fragments as number[][]).push([99999, 1e9])],
    ['fragment not a pair', (q) => ((q.fragments as unknown[])[2] = [1])],
    ['negative delay', (q) => (q.delay = -1)],
    ['no samples', (q) => (q.samples = 0)],
  ]
  for (const [what, spoil] of bad) {
    const q = JSON.parse(JSON.stringify(mp4Quality()))
    spoil(q)
    t.throws(() => parseManifest(manifest(q)), { code: 'invalid_manifest' }, what)
  }
})

t.test('the start for any time is a fragment inside the chunk chunkAtTime names', async (t) => {
  const q = mp4Quality()
  let checked = 0
  for (let ms = 0; ms < 40000; ms += 37) {
    const p = startPoint(q, ms)
    const f = q.fragments.findLast(([time]) => time <= ms)!
    t.equal(p.chunk * q.chunkSize + p.skip, f[1], `${ms} ms starts at its fragment's byte`)
    t.equal(p.timeMs, f[0])
    t.equal(p.chunk, chunkAtTime(q, ms), `${ms} ms: the scheduler's chunk is the start's chunk`)
    checked++
  }
  t.ok(checked > 1000)
})

t.test('playable audio once chunks before i are in: up to the fragment chunk i begins in', async (t) => {
  const q = mp4Quality()
  for (let i = 0; i < q.chunkCount; i++) {
    const at = i * q.chunkSize
    const containing = q.fragments.findLast(([, byte]) => byte <= at)!
    t.equal(playableUntilMs(q, i, 40000), containing[0])
    t.ok(q.seek[i]! >= containing[0], 'the seek table never says a chunk is needed before its fragment starts')
  }
  t.equal(playableUntilMs(q, q.chunkCount, 40000), 40000, 'everything delivered: the whole track')
  t.ok(
    q.seek.every((s, i) => i === 0 || s >= q.seek[i - 1]!),
    'the seek table ascends',
  )
})
