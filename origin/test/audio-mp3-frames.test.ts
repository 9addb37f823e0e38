import t from 'tap'
import { scanMp3 } from '../src/audio/mp3-frames.js'
import { encodeMp3 } from '../src/audio/encode.js'
import { crc16 } from '../src/audio/info-frame.js'
import { AudioError, type Pcm } from '../src/audio/pcm.js'
import { concat, pseudoRandomBytes, sine } from '../../test-support/audio.js'

function tonePcm(sampleRate: number, seconds: number, channels: 1 | 2): Pcm {
  const frames = Math.round(sampleRate * seconds)
  const tone = Int16Array.from(sine(440, sampleRate, frames, 0.4), (x) => Math.round(x * 32768))
  return { sampleRate, channels: channels === 1 ? [tone] : [tone, tone.map((v) => v >> 1)] }
}

function id3v2(bodyLength: number, footer = false): Uint8Array {
  const tag = new Uint8Array(10 + bodyLength + (footer ? 10 : 0))
  tag.set([0x49, 0x44, 0x33, 4, 0, footer ? 0x10 : 0])
  let n = bodyLength
  for (let i = 9; i >= 6; i--) {
    tag[i] = n & 0x7f
    n >>= 7
  }
  tag.set(new TextEncoder().encode('TIT2'), 10)
  return tag
}

function apeTag(): Uint8Array {
  const footer = new Uint8Array(32 + 20)
  const items = new TextEncoder().encode('ape items here......') // 20 bytes of "items"
  footer.set(items, 0)
  const f = footer.subarray(20)
  f.set(new TextEncoder().encode('APETAGEX'))
  const view = new DataView(f.buffer, f.byteOffset)
  view.setUint32(8, 2000, true)
  view.setUint32(12, 32 + 20, true) // tag size: items + footer
  view.setUint32(16, 1, true)
  return footer
}

function expectCorrupt(t: Pick<typeof import('tap').default, 'ok' | 'equal' | 'fail'>, bytes: Uint8Array, what: string): void {
  try {
    scanMp3(bytes)
    t.fail(`${what}: scanned without error`)
  } catch (err) {
    t.ok(err instanceof AudioError, `${what}: AudioError (${(err as Error).message})`)
    t.equal((err as AudioError).code, 'corrupt_audio', `${what}: corrupt_audio`)
  }
}

const mono44 = tonePcm(44100, 2, 1)
const stereo22 = tonePcm(22050, 2, 2)
const encoded = await encodeMp3(mono44, [128], { workers: 1 })
const mp3 = encoded.get(128)!
const encoded22 = await encodeMp3(stereo22, [64], { workers: 1 })
const mp3mpeg2 = encoded22.get(64)!

t.test('the encoder output scans as a clean CBR stream with an Info frame', async (t) => {
  const scan = scanMp3(mp3)
  t.equal(scan.sampleRate, 44100)
  t.equal(scan.channels, 1)
  t.equal(scan.bitrateKbps, 128)
  t.equal(scan.version, '1')
  t.equal(scan.samplesPerFrame, 1152)
  t.equal(scan.audioStart, 0)
  t.equal(scan.audioEnd, mp3.length)
  t.equal(scan.skippedBytes, 0)
  t.equal(scan.infoFrame?.tag.kind, 'Info')
  t.equal(scan.infoFrame?.tag.frames, scan.frameOffsets.length, 'the Info frame counts the audio frames')
  t.equal(scan.infoFrame?.tag.bytes, mp3.length)
  t.equal(scan.infoFrame?.tag.encoderDelay, 576)
  t.equal(scan.frameOffsets[0], scan.infoFrame?.length, 'the first audio frame follows the Info frame')
  t.equal(scan.durationMs, 2000, 'delay and padding trimmed: exactly the input length')
  t.equal(scan.frameTimesMs.length, scan.frameOffsets.length)
  t.equal(scan.frameTimesMs[1], (1152 / 44100) * 1000)
  let increasing = true
  for (let i = 1; i < scan.frameOffsets.length; i++) if (scan.frameOffsets[i]! <= scan.frameOffsets[i - 1]!) increasing = false
  t.ok(increasing, 'offsets increase')
  // 128 kbit/s at 44.1 kHz: 417 or 418 bytes a frame.
  const sizes = new Set(Array.from(scan.frameOffsets.subarray(1), (o, i) => o - scan.frameOffsets[i]!))
  t.same([...sizes].sort(), [417, 418])
})

t.test('MPEG-2 streams (22.05 kHz) have 576-sample frames', async (t) => {
  const scan = scanMp3(mp3mpeg2)
  t.equal(scan.version, '2')
  t.equal(scan.sampleRate, 22050)
  t.equal(scan.channels, 2)
  t.equal(scan.samplesPerFrame, 576)
  t.equal(scan.bitrateKbps, 64)
  t.equal(scan.durationMs, 2000)
})

t.test('without an Info frame the duration is whole frames', async (t) => {
  const scan = scanMp3(mp3)
  const bare = mp3.subarray(scan.infoFrame!.length)
  const plain = scanMp3(bare)
  t.equal(plain.infoFrame, undefined)
  t.equal(plain.frameOffsets.length, scan.frameOffsets.length)
  t.equal(plain.durationMs, (plain.frameOffsets.length * 1152 * 1000) / 44100)
})

t.test('ID3v2 in front, ID3v1 and APEv2 behind are skipped', async (t) => {
  const scan = scanMp3(mp3)
  const head = concat([id3v2(300), id3v2(50, true)]) // two tags, the second with a footer
  const id3v1 = new Uint8Array(128)
  id3v1.set(new TextEncoder().encode('TAGtitle'))
  const tagged = concat([head, mp3, apeTag(), id3v1])
  const s = scanMp3(tagged)
  t.equal(s.audioStart, head.length)
  t.equal(s.frameOffsets.length, scan.frameOffsets.length)
  t.equal(s.frameOffsets[0], head.length + scan.frameOffsets[0]!)
  t.equal(s.audioEnd, head.length + mp3.length)
  t.equal(s.durationMs, scan.durationMs)
})

t.test('garbage between frames is skipped and the stream picked up again', async (t) => {
  const scan = scanMp3(mp3)
  const cut = scan.frameOffsets[20]!
  const junk = pseudoRandomBytes(777, 42)
  const damaged = concat([mp3.subarray(0, cut), junk, mp3.subarray(cut)])
  const s = scanMp3(damaged)
  t.equal(s.frameOffsets.length, scan.frameOffsets.length, 'no frame lost')
  t.ok(s.skippedBytes >= 777, `skipped ${s.skippedBytes} bytes`)
  t.equal(s.frameOffsets[20], cut + 777)

  const leading = concat([pseudoRandomBytes(1000, 7), mp3])
  const l = scanMp3(leading)
  t.equal(l.audioStart, 1000, 'junk before the first frame is skipped')
  t.equal(l.frameOffsets.length, scan.frameOffsets.length)
})

t.test('a cut-off last frame is left out', async (t) => {
  const scan = scanMp3(mp3)
  const last = scan.frameOffsets[scan.frameOffsets.length - 1]!
  const s = scanMp3(mp3.subarray(0, last + 100))
  t.equal(s.frameOffsets.length, scan.frameOffsets.length - 1)
  t.equal(s.audioEnd, last)
})

t.test('non-MP3 input gives corrupt_audio, never a crash', async (t) => {
  expectCorrupt(t, new Uint8Array(0), 'empty')
  expectCorrupt(t, new TextEncoder().encode('just some text, not audio'), 'text')
  expectCorrupt(t, id3v2(100), 'an ID3 tag and nothing else')
  expectCorrupt(t, concat([id3v2(0x0fffffff & 0x7f7f7f7f)]), 'an ID3 tag claiming more bytes than the file has')
  const scan = scanMp3(mp3)
  expectCorrupt(t, mp3.subarray(scan.frameOffsets[0]!, scan.frameOffsets[2]!), 'two frames')
  for (let seed = 1; seed <= 100; seed++) {
    const junk = pseudoRandomBytes(500 + seed * 37, seed)
    if (seed % 3 === 0) junk.set([0xff, 0xfb, 0x90, 0x04], 0) // one plausible header, then noise
    try {
      scanMp3(junk)
      t.fail(`random bytes (seed ${seed}) scanned as MP3`)
      return
    } catch (err) {
      if (!(err instanceof AudioError)) {
        t.fail(`random bytes (seed ${seed}) threw ${(err as Error).name}`)
        return
      }
    }
  }
  t.pass('100 random inputs: only AudioError')
})

t.test('the Info tag CRC is CRC-16/ARC', async (t) => {
  t.equal(crc16(new TextEncoder().encode('123456789'), 0, 9), 0xbb3d)
})
