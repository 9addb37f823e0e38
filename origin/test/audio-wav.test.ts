import t from 'tap'
import { parseWav, readWavInfo } from '../src/audio/wav.js'
import { AudioError } from '../src/audio/pcm.js'
import { buildWav, chunk, concat, dominantFrequency, pseudoRandomBytes, sine } from '../../test-support/audio.js'

const RATE = 44100
const FRAMES = 4410

type Asserts = Pick<typeof t, 'ok' | 'match' | 'fail'>

function expectAudioError(t: Asserts, fn: () => unknown, codes: string[], pattern: RegExp, what: string): void {
  try {
    fn()
    t.fail(`${what}: no error`)
  } catch (err) {
    t.ok(err instanceof AudioError, `${what}: an AudioError (got ${(err as Error)?.name}: ${(err as Error)?.message})`)
    if (err instanceof AudioError) {
      t.ok(codes.includes(err.code), `${what}: code ${err.code}`)
      t.match(err.message, pattern, `${what}: message "${err.message}"`)
    }
  }
}

t.test('16-bit stereo PCM reads back sample for sample', async (t) => {
  const left = sine(440, RATE, FRAMES, 0.5)
  const right = sine(660, RATE, FRAMES, 0.25)
  const pcm = parseWav(buildWav({ channels: [left, right], sampleRate: RATE, format: 'int', bits: 16, extraChunks: true }))
  t.equal(pcm.sampleRate, RATE)
  t.equal(pcm.channels.length, 2)
  t.equal(pcm.channels[0]!.length, FRAMES)
  t.equal(pcm.channels[1]!.length, FRAMES)
  let exact = true
  for (let i = 0; i < FRAMES; i++) {
    if (pcm.channels[0]![i] !== Math.round(left[i]! * 32768) || pcm.channels[1]![i] !== Math.round(right[i]! * 32768)) exact = false
  }
  t.ok(exact, '16-bit samples are unchanged')
})

t.test('every sample format gives the same signal at 16 bits', async (t) => {
  const signal = sine(1000, RATE, FRAMES, 0.6)
  const expected = Int16Array.from(signal, (x) => Math.round(x * 32768))
  const cases = [
    { format: 'int', bits: 8, tolerance: 260 },
    { format: 'int', bits: 24, tolerance: 1 },
    { format: 'int', bits: 32, tolerance: 1 },
    { format: 'float', bits: 32, tolerance: 1 },
    { format: 'float', bits: 64, tolerance: 1 },
    { format: 'int', bits: 16, tolerance: 0, extensible: true },
    { format: 'float', bits: 32, tolerance: 1, extensible: true },
  ] as const
  for (const c of cases) {
    const name = `${c.format} ${c.bits}-bit${'extensible' in c ? ' (WAVE_FORMAT_EXTENSIBLE)' : ''}`
    const pcm = parseWav(buildWav({ channels: [signal], sampleRate: RATE, format: c.format, bits: c.bits, extensible: 'extensible' in c }))
    t.equal(pcm.channels.length, 1, `${name}: mono stays mono`)
    let worst = 0
    for (let i = 0; i < FRAMES; i++) worst = Math.max(worst, Math.abs(pcm.channels[0]![i]! - expected[i]!))
    t.ok(worst <= c.tolerance, `${name}: largest difference ${worst} <= ${c.tolerance}`)
  }
})

t.test('float input beyond full scale clips instead of wrapping', async (t) => {
  const loud = Float64Array.from({ length: 100 }, (_, i) => (i % 2 ? 1.5 : -1.5))
  const wav = buildWav({ channels: [loud], sampleRate: RATE, format: 'float', bits: 32 })
  // buildWav clamps to [-1, 1]; write the out-of-range values directly.
  const info = readWavInfo(wav)
  const view = new DataView(wav.buffer, wav.byteOffset)
  for (let i = 0; i < 100; i++) view.setFloat32(info.dataOffset + i * 4, loud[i]!, true)
  view.setFloat32(info.dataOffset, Number.NaN, true)
  const pcm = parseWav(wav)
  t.equal(pcm.channels[0]![0], 0, 'NaN becomes silence')
  t.equal(pcm.channels[0]![1], 32767)
  t.equal(pcm.channels[0]![2], -32768)
})

t.test('MP3 sample rates are kept; other rates are resampled to 44100 Hz', async (t) => {
  for (const rate of [48000, 32000, 22050, 16000, 8000]) {
    const pcm = parseWav(buildWav({ channels: [sine(440, rate, rate / 10)], sampleRate: rate, format: 'int', bits: 16 }))
    t.equal(pcm.sampleRate, rate, `${rate} Hz kept`)
    t.equal(pcm.channels[0]!.length, rate / 10)
  }
  // 43999 Hz reduces to 44100 phases: the interpolated-kernel path rather than the polyphase one.
  for (const rate of [96000, 88200, 37800, 11000, 43999]) {
    const frames = rate // one second
    const pcm = parseWav(buildWav({ channels: [sine(440, rate, frames, 0.5)], sampleRate: rate, format: 'int', bits: 16 }))
    t.equal(pcm.sampleRate, 44100, `${rate} Hz resampled to 44100`)
    t.equal(pcm.channels[0]!.length, Math.round((frames * 44100) / rate), `${rate} Hz: length scales with the rate`)
    const pitch = dominantFrequency(pcm.channels[0]!, 8192, 16384, 44100)
    t.ok(Math.abs(pitch - 440) < 3, `${rate} Hz: the 440 Hz tone is still 440 Hz (got ${pitch.toFixed(1)})`)
    let peak = 0
    for (let i = 4410; i < pcm.channels[0]!.length - 4410; i++) peak = Math.max(peak, Math.abs(pcm.channels[0]![i]!))
    t.ok(Math.abs(peak / 16384 - 1) < 0.02, `${rate} Hz: level kept (peak ${peak})`)
  }
})

t.test('a tone above the new Nyquist frequency is filtered out, not aliased', async (t) => {
  const pcm = parseWav(buildWav({ channels: [sine(30000, 96000, 96000, 0.5)], sampleRate: 96000, format: 'int', bits: 16 }))
  let peak = 0
  for (let i = 2000; i < pcm.channels[0]!.length - 2000; i++) peak = Math.max(peak, Math.abs(pcm.channels[0]![i]!))
  t.ok(peak < 100, `a 30 kHz tone at 96 kHz leaves at most ${peak} (of 16384) after resampling to 44.1 kHz`)
})

t.test('more than two channels fold into stereo', async (t) => {
  const n = 2048
  const silent = new Float64Array(n)
  const tone = sine(500, RATE, n, 0.8)
  // 5.1 in WAVE order: FL FR FC LFE BL BR. A tone on the centre lands on both sides equally;
  // one on the back-left lands on the left only; LFE is dropped.
  const centre = parseWav(buildWav({ channels: [silent, silent, tone, silent, silent, silent], sampleRate: RATE, format: 'int', bits: 16, extensible: true, channelMask: 0x3f }))
  t.equal(centre.channels.length, 2)
  const cl = centre.channels[0]!
  const cr = centre.channels[1]!
  let same = true
  let peak = 0
  for (let i = 0; i < n; i++) {
    if (cl[i] !== cr[i]) same = false
    peak = Math.max(peak, Math.abs(cl[i]!))
  }
  t.ok(same, 'centre is equal in both channels')
  t.ok(peak > 3000, `centre is audible (peak ${peak})`)

  const back = parseWav(buildWav({ channels: [silent, silent, silent, silent, tone, silent], sampleRate: RATE, format: 'int', bits: 16 }))
  t.ok(
    back.channels[0]!.some((v) => Math.abs(v) > 3000),
    'back-left reaches the left channel (default 5.1 layout, no mask)',
  )
  t.ok(
    back.channels[1]!.every((v) => v === 0),
    'and not the right',
  )

  const lfe = parseWav(buildWav({ channels: [silent, silent, silent, tone, silent, silent], sampleRate: RATE, format: 'int', bits: 16 }))
  t.ok(
    lfe.channels.every((c) => c.every((v) => v === 0)),
    'LFE is dropped',
  )

  const full = Float64Array.from({ length: n }, () => 1)
  const all = parseWav(buildWav({ channels: Array.from({ length: 8 }, () => full), sampleRate: RATE, format: 'int', bits: 16 }))
  t.ok(
    all.channels[0]!.every((v) => v <= 32767 && v > 30000),
    '7.1 at full scale on every channel does not clip',
  )
})

t.test('truncated, corrupt and non-WAV input gives AudioError, never a crash', async (t) => {
  const good = buildWav({ channels: [sine(440, RATE, FRAMES)], sampleRate: RATE, format: 'int', bits: 16 })
  expectAudioError(t, () => parseWav(new Uint8Array(0)), ['corrupt_audio'], /only 0 bytes/, 'empty')
  expectAudioError(t, () => parseWav(good.subarray(0, 10)), ['corrupt_audio'], /only 10 bytes/, 'ten bytes')
  expectAudioError(t, () => parseWav(good.subarray(0, 30)), ['corrupt_audio'], /fmt|truncated/, 'cut inside fmt')
  expectAudioError(t, () => parseWav(good.subarray(0, 44)), ['corrupt_audio'], /no "data"|no audio|declares/, 'cut after the data header')
  expectAudioError(t, () => parseWav(good.subarray(0, 2000)), ['corrupt_audio'], /truncated WAV file: the data chunk declares 8820 bytes but only 1956/, 'cut inside data')
  const cut = parseWav(good.subarray(0, 2001), { allowTruncated: true })
  t.equal(cut.channels[0]!.length, 978, 'allowTruncated keeps the whole frames present')

  expectAudioError(t, () => parseWav(new TextEncoder().encode('hello, this is not audio at all')), ['unsupported_format'], /no RIFF header/, 'text')
  const avi = good.slice()
  avi.set(new TextEncoder().encode('AVI '), 8)
  expectAudioError(t, () => parseWav(avi), ['unsupported_format'], /"AVI ", not WAVE/, 'RIFF AVI')

  const noFmt = concat([new TextEncoder().encode('RIFF\x00\x00\x00\x00WAVE'), chunk('data', new Uint8Array(100))])
  expectAudioError(t, () => parseWav(noFmt), ['corrupt_audio'], /no "fmt " chunk/, 'no fmt chunk')

  const adpcm = good.slice()
  new DataView(adpcm.buffer).setUint16(20, 2, true)
  expectAudioError(t, () => parseWav(adpcm), ['unsupported_format'], /Microsoft ADPCM/, 'ADPCM')

  const zeroChannels = good.slice()
  new DataView(zeroChannels.buffer).setUint16(22, 0, true)
  expectAudioError(t, () => parseWav(zeroChannels), ['corrupt_audio'], /0 channels/, 'zero channels')

  const zeroRate = good.slice()
  new DataView(zeroRate.buffer).setUint32(24, 0, true)
  expectAudioError(t, () => parseWav(zeroRate), ['corrupt_audio'], /sample rate 0/, 'zero rate')

  const oddBits = good.slice()
  new DataView(oddBits.buffer).setUint16(34, 40, true)
  expectAudioError(t, () => parseWav(oddBits), ['unsupported_format'], /40 bits/, '40-bit samples')

  const hugeChunk = good.slice()
  new DataView(hugeChunk.buffer).setUint32(16, 0x7fffffff, true)
  expectAudioError(t, () => parseWav(hugeChunk), ['corrupt_audio'], /chunk "fmt " .* declares/, 'chunk size past the end')

  // Random bytes, with and without a RIFF/WAVE header in front: all must fail cleanly.
  for (let seed = 1; seed <= 200; seed++) {
    const junk = pseudoRandomBytes(16 + seed * 7, seed)
    if (seed % 2 === 0) junk.set([0x52, 0x49, 0x46, 0x46, 0xff, 0xff, 0x00, 0x00, 0x57, 0x41, 0x56, 0x45], 0) // RIFF....WAVE
    try {
      parseWav(junk)
    } catch (err) {
      if (!(err instanceof AudioError)) {
        t.fail(`random bytes (seed ${seed}) threw ${(err as Error).name}: ${(err as Error).message}`)
        return
      }
    }
  }
  t.pass('200 random inputs: only AudioError')

  // A valid file with random bytes overwritten here and there (headers included).
  for (let seed = 1; seed <= 300; seed++) {
    const damaged = good.slice()
    const noise = pseudoRandomBytes(8, seed)
    for (let k = 0; k < 4; k++) damaged[(noise[k]! * 7 + seed) % 80] = noise[k + 4]!
    try {
      parseWav(damaged)
    } catch (err) {
      if (!(err instanceof AudioError)) {
        t.fail(`damaged header (seed ${seed}) threw ${(err as Error).name}: ${(err as Error).message}`)
        return
      }
    }
  }
  t.pass('300 damaged headers: PCM or AudioError')

  // Every prefix of a valid file: either PCM (with allowTruncated) or an AudioError.
  for (let cutAt = 0; cutAt < 200; cutAt++) {
    try {
      parseWav(good.subarray(0, cutAt))
    } catch (err) {
      if (!(err instanceof AudioError)) {
        t.fail(`prefix of ${cutAt} bytes threw ${(err as Error).name}`)
        return
      }
    }
  }
  t.pass('every short prefix: only AudioError')
})

t.test('streaming writers that leave the data size at 0 or 0xFFFFFFFF are read to the end', async (t) => {
  for (const size of [0, 0xffffffff]) {
    const wav = buildWav({ channels: [sine(440, RATE, 1000)], sampleRate: RATE, format: 'int', bits: 16 })
    new DataView(wav.buffer).setUint32(40, size, true)
    t.equal(parseWav(wav).channels[0]!.length, 1000, `data size ${size}`)
  }
})

t.test('RF64 files take the data size from the ds64 chunk', async (t) => {
  const plain = buildWav({ channels: [sine(440, RATE, 1000), sine(550, RATE, 1000)], sampleRate: RATE, format: 'int', bits: 16 })
  const ds64 = new Uint8Array(28)
  const view = new DataView(ds64.buffer)
  view.setUint32(8, 4000, true) // data size, low half
  view.setUint32(16, 1000, true) // sample count
  // RF64 header, ds64, then the plain file's chunks with the data size set to "see ds64".
  const header = new Uint8Array([...new TextEncoder().encode('RF64'), 0xff, 0xff, 0xff, 0xff, ...new TextEncoder().encode('WAVE')])
  const rf64 = concat([header, chunk('ds64', ds64), plain.subarray(12)])
  const dataSizeAt = rf64.length - 4000 - 4
  new DataView(rf64.buffer).setUint32(dataSizeAt, 0xffffffff, true)
  const withTail = concat([rf64, chunk('LIST', new Uint8Array(10))])
  const pcm = parseWav(withTail)
  t.equal(pcm.channels.length, 2)
  t.equal(pcm.channels[0]!.length, 1000, 'the LIST chunk after the data is not read as audio')
  t.same(pcm.channels[0], parseWav(plain).channels[0])
})

t.test('a header that makes the file hours long is refused before any allocation', async (t) => {
  const small = buildWav({ channels: [new Float64Array(8)], sampleRate: 8000, format: 'int', bits: 8 })
  // 8-bit mono at 1000 Hz: 22 MB of data is just over six hours.
  const big = new Uint8Array(44 + 6 * 3600 * 1000 + 1000)
  big.set(small.subarray(0, 44))
  const view = new DataView(big.buffer)
  view.setUint32(24, 1000, true)
  view.setUint32(28, 1000, true)
  view.setUint32(40, big.length - 44, true)
  expectAudioError(t, () => parseWav(big), ['unsupported_format'], /6\.0 hours at 1000 Hz/, 'six hours')
})
