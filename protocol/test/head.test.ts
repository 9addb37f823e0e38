import t from 'tap'
import { type QualityManifest, ProtocolError, decodeHead, encodeHead, headChunkCount, headPath, headQuality, parseHeadKbps } from '../index.js'

// A track's head on the wire and the rules that pick what it carries.
t.test('encodeHead and decodeHead round-trip the manifest and the chunks', async (t) => {
  const doc = { manifest: { trackId: 'song', version: 'v1' }, alg: 'Ed25519', keyId: 'k', signature: 's' }
  const chunks = [new Uint8Array([1, 2, 3]), new Uint8Array([4, 5])]
  const head = decodeHead(encodeHead(JSON.stringify(doc), 160, chunks))
  t.same(head, { bitrate: 160, manifest: doc, chunks })
  t.same(decodeHead(encodeHead(JSON.stringify(doc), 96, [])).chunks, [])
})

t.test('what is not a head is a bad_request', async (t) => {
  const good = encodeHead('{}', 96, [new Uint8Array(4)])
  const bad = [
    new Uint8Array(2),
    good.slice(0, good.length - 1),
    new Uint8Array([0, 0, 0, 200, 1]),
    (() => {
      const x = good.slice()
      x[5] = 0x7b
      return x
    })(),
  ]
  for (const body of bad) t.throws(() => decodeHead(body), ProtocolError)
})

t.test('the quality a head carries and how many chunks', async (t) => {
  const q = (bitrate: number) => ({ bitrate })
  const qs = [q(96), q(160), q(320)]
  t.equal(headQuality(qs, undefined).bitrate, 160, 'the middle one without a hint')
  t.equal(headQuality(qs, 200).bitrate, 160)
  t.equal(headQuality(qs, 320).bitrate, 320)
  t.equal(headQuality(qs, 50).bitrate, 96, 'the lowest when none is under the hint')
  t.equal(headQuality([q(128)], undefined).bitrate, 128)
  const mp3 = { codec: 'mp3', chunkCount: 10, chunkSize: 1000, byteLength: 9500 } as QualityManifest
  t.equal(headChunkCount(mp3), 1)
  const aac = {
    codec: 'aac',
    chunkCount: 10,
    chunkSize: 1000,
    byteLength: 9500,
    fragments: [
      [0, 0],
      [1000, 2500],
    ],
  } as unknown as QualityManifest
  t.equal(headChunkCount(aac), 3, 'the chunks up to the end of the first fragment')
  t.equal(headChunkCount({ ...aac, fragments: [[0, 0]] } as unknown as QualityManifest), 10, 'one fragment: the whole track')
  t.equal(headPath('song'), '/v1/tracks/song/head')
  t.equal(headPath('song', 96), '/v1/tracks/song/head?kbps=96')
  t.equal(parseHeadKbps(undefined), undefined)
  t.equal(parseHeadKbps('160'), 160)
  for (const bad of ['0', '1000', 'x', '01', '-5']) t.throws(() => parseHeadKbps(bad), { code: 'bad_request' })
})
