import t from 'tap'
import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import { decodeInput, findFfmpeg } from '../src/audio/decode.js'
import { encodeMp3 } from '../src/audio/encode.js'
import { AudioError } from '../src/audio/pcm.js'
import { buildWav, pseudoRandomBytes, sine } from '../../test-support/audio.js'

const left = sine(440, 44100, 44100)
const right = sine(550, 44100, 44100)
const wav = buildWav({ channels: [left, right], sampleRate: 44100, format: 'int', bits: 16 })
const mp3 = (await encodeMp3({ sampleRate: 44100, channels: [Int16Array.from(left, (x) => Math.round(x * 32767))] }, [128], { workers: 1 })).get(128)!
const adpcm = wav.slice()
new DataView(adpcm.buffer).setUint16(20, 2, true) // format tag 2: Microsoft ADPCM

const dir = t.testdir({
  // Names lie on purpose: detection goes by content.
  'song.mp3': Buffer.from(wav),
  'song.wav': Buffer.from(mp3),
  'noise.wav': Buffer.from(pseudoRandomBytes(5000, 9)),
  'empty.m4a': Buffer.alloc(0),
  'fake.flac': Buffer.concat([Buffer.from('fLaC'), Buffer.from(pseudoRandomBytes(100, 3))]),
  'adpcm.wav': Buffer.from(adpcm),
  'short.wav': Buffer.from(wav.subarray(0, 1000)),
})
const ffmpeg = await findFfmpeg()

async function decodeError(path: string, opts?: Parameters<typeof decodeInput>[1]): Promise<AudioError> {
  try {
    await decodeInput(path, opts)
  } catch (err) {
    if (err instanceof AudioError) return err
    throw err
  }
  throw new Error(`${path} decoded without error`)
}

t.test('a WAV file (named .mp3) becomes PCM', async (t) => {
  const decoded = await decodeInput(join(dir, 'song.mp3'))
  t.equal(decoded.kind, 'pcm')
  if (decoded.kind !== 'pcm') return
  t.equal(decoded.pcm.sampleRate, 44100)
  t.equal(decoded.pcm.channels.length, 2)
  t.equal(decoded.pcm.channels[0]!.length, 44100)
  t.equal(decoded.pcm.channels[1]![100], Math.round(right[100]! * 32768))
})

t.test('without ffmpeg, an MP3 file from the encoder (named .wav) is kept as it is and scanned', async (t) => {
  const decoded = await decodeInput(join(dir, 'song.wav'), { ffmpeg: false })
  t.equal(decoded.kind, 'mp3')
  if (decoded.kind !== 'mp3') return
  t.same(decoded.bytes, mp3, 'bytes unchanged')
  t.equal(decoded.scan.bitrateKbps, 128)
  t.equal(decoded.scan.channels, 1)
  t.equal(decoded.scan.durationMs, 1000)
})

t.test('broken input: AudioError naming the file', async (t) => {
  const short = await decodeError(join(dir, 'short.wav'))
  t.equal(short.code, 'corrupt_audio')
  t.equal(short.file, join(dir, 'short.wav'))
  t.match(short.message, `${join(dir, 'short.wav')}: truncated WAV file`)

  for (const name of ['noise.wav', 'empty.m4a', 'fake.flac']) {
    const path = join(dir, name)
    const err = await decodeError(path, { ffmpeg: false })
    t.equal(err.code, 'unsupported_format', `${name}: unsupported_format`)
    t.equal(err.file, path, `${name}: names the file`)
    t.match(err.message, path)
    t.match(err.message, /ffmpeg/, `${name}: says ffmpeg would decode it`)
  }
  t.match((await decodeError(join(dir, 'fake.flac'), { ffmpeg: false })).message, /looks like FLAC/)
  t.match((await decodeError(join(dir, 'empty.m4a'), { ffmpeg: false })).message, /empty/)

  const compressed = await decodeError(join(dir, 'adpcm.wav'), { ffmpeg: false })
  t.equal(compressed.code, 'unsupported_format')
  t.match(compressed.message, /Microsoft ADPCM.*ffmpeg/)

  await t.rejects(decodeInput(join(dir, 'missing.wav')), { code: 'ENOENT' }, 'a missing file is the file system error')
})

t.test('without ffmpeg, other formats are refused with a pointer to ffmpeg', async (t) => {
  const err = await decodeError(join(dir, 'fake.flac'), { ffmpeg: false })
  t.equal(err.code, 'unsupported_format')
  t.match(err.message, /ffmpeg would decode other formats, but none was found/)
})

t.test('ffmpeg is found without a system install: the npm package ships it', async (t) => {
  t.ok(ffmpeg, 'found')
  t.notOk(process.env.CHORUS_FFMPEG, 'not from CHORUS_FFMPEG') // else this says nothing
})

t.test('with ffmpeg, an MP3 is decoded to PCM (to be re-encoded for every browser)', async (t) => {
  const decoded = await decodeInput(join(dir, 'song.wav'))
  t.equal(decoded.kind, 'pcm')
  if (decoded.kind !== 'pcm') return
  t.equal(decoded.pcm.sampleRate, 44100)
  t.ok(Math.abs(decoded.pcm.channels[0]!.length - 44100) <= 1152, `one second, within a frame (${decoded.pcm.channels[0]!.length})`)
})

t.test('with ffmpeg, other formats decode to 44.1 kHz stereo and failures name the file', async (t) => {
  const flac = join(dir, 'real.flac')
  execFileSync(ffmpeg!, ['-hide_banner', '-loglevel', 'error', '-y', '-i', join(dir, 'song.mp3'), flac])
  const decoded = await decodeInput(flac)
  t.equal(decoded.kind, 'pcm')
  if (decoded.kind === 'pcm') {
    t.equal(decoded.pcm.sampleRate, 44100)
    t.equal(decoded.pcm.channels[0]!.length, 44100)
  }
  const err = await decodeError(join(dir, 'noise.wav'))
  t.equal(err.code, 'decoder_failed')
  t.equal(err.file, join(dir, 'noise.wav'))
})
