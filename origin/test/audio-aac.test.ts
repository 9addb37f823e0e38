import { spawnSync } from 'node:child_process'
import t from 'tap'
import { AAC_FRAME, AAC_PRIMING, encodeAac, gaplessLead } from '../src/audio/encode-aac.js'
import { findFfmpeg } from '../src/audio/ffmpeg.js'
import { splitFragmentedMp4 } from '../src/audio/mp4-fragments.js'
import { AudioError } from '../src/audio/pcm.js'

const FFMPEG = (await findFfmpeg())!
const RATE = 44100

/** Band-limited noise: a signal whose cross-correlation has one sharp peak, at the true lag. */
function noise(frames: number, seed: number): Int16Array {
  const out = new Int16Array(frames)
  let x = seed
  let prev = 0
  for (let i = 0; i < frames; i++) {
    x = (Math.imul(x, 1103515245) + 12345) | 0
    const white = ((x >>> 8) & 0xffff) / 0x8000 - 1
    prev = prev * 0.6 + white * 0.4 // a little low-pass: AAC keeps it
    out[i] = Math.round(prev * 12000)
  }
  return out
}

function decodeMono(file: Uint8Array): Float32Array {
  const run = spawnSync(FFMPEG, ['-hide_banner', '-v', 'error', '-i', 'pipe:0', '-f', 'f32le', '-ac', '1', 'pipe:1'], { input: file, maxBuffer: 1 << 27 })
  if (run.status !== 0 || run.stderr.length) throw new Error(`ffmpeg: ${run.stderr}`)
  return new Float32Array(run.stdout.buffer.slice(run.stdout.byteOffset, run.stdout.byteOffset + run.stdout.byteLength))
}

t.test('the delay is the priming (one 1024-sample frame) plus a lead-in that ends the track on a frame: the decoded audio lags the input by exactly the delay', async (t) => {
  const input = noise(RATE * 3, 7)
  const encoded = await encodeAac(FFMPEG, { sampleRate: RATE, channels: [input] }, [320])
  const q = encoded.get(320)!
  const lead = gaplessLead(input.length)
  t.ok(lead > 0 && lead < AAC_FRAME, `this length needs a lead-in (${lead} samples)`)
  t.equal(q.delay, AAC_PRIMING + lead)
  t.equal((q.delay + q.samples) % AAC_FRAME, 0, "the track's last sample ends an AAC frame: no frame is cut at its end")
  t.equal(q.samples, input.length)
  const decoded = decodeMono(new Uint8Array(Buffer.concat([q.init, q.media])))
  let best = { lag: -1, score: -Infinity }
  for (let lag = 0; lag <= 4096; lag++) {
    let score = 0
    for (let i = 20000; i < 60000; i++) score += input[i]! * decoded[i + lag]!
    if (score > best.score) best = { lag, score }
  }
  t.equal(best.lag, q.delay, 'cross-correlation peaks at the delay')
  t.ok(decoded.length >= q.delay + q.samples && decoded.length < q.delay + q.samples + 1024, `decoded length ${decoded.length}: delay + input + under one frame`)
})

t.test('an input at a rate AAC has not is resampled, and its lead-in still ends it within a sample of a frame', async (t) => {
  const input = noise(37800, 5)
  const q = (await encodeAac(FFMPEG, { sampleRate: 37800, channels: [input] }, [96])).get(96)!
  t.equal(q.timescale, 44100, 'resampled to 44.1 kHz')
  t.equal(q.samples, 44100, 'one second at the output rate')
  const off = (q.delay + q.samples) % AAC_FRAME
  t.ok(Math.min(off, AAC_FRAME - off) <= 1, `priming + lead-in + track is ${off} samples off a frame's end`)
})

t.test('ffmpeg output splits into an init segment and ~1 s fragments that join back into a clean file', async (t) => {
  const input = noise(RATE * 5, 3)
  const bitrates = [96, 160, 320]
  let progressed = 0
  const encoded = await encodeAac(FFMPEG, { sampleRate: RATE, channels: [input, input] }, bitrates, { onProgress: (done, total) => (progressed = done / total) })
  t.equal(progressed, 1, 'progress reaches 1')
  t.same([...encoded.keys()], bitrates)
  for (const q of encoded.values()) {
    t.equal(String.fromCharCode(...q.init.subarray(4, 8)), 'ftyp', `${q.bitrate}: init starts with ftyp`)
    t.equal(String.fromCharCode(...q.media.subarray(4, 8)), 'moof', `${q.bitrate}: media starts with a fragment`)
    t.equal(q.timescale, RATE)
    t.equal(q.channels, 2)
    t.equal(q.fragments[0]!.byte, 0)
    t.ok(q.fragments.length >= 4 && q.fragments.length <= 7, `${q.bitrate}: about one fragment a second (${q.fragments.length})`)
    for (let i = 1; i < q.fragments.length; i++) {
      t.ok(q.fragments[i]!.byte > q.fragments[i - 1]!.byte && q.fragments[i]!.decodeTime > q.fragments[i - 1]!.decodeTime, 'fragments ascend')
      t.equal(String.fromCharCode(...q.media.subarray(q.fragments[i]!.byte + 4, q.fragments[i]!.byte + 8)), 'moof', 'each offset is a moof')
    }
    // A stream that starts at a later fragment (a seek) is still valid after the init segment.
    const fromThird = Buffer.concat([q.init, q.media.subarray(q.fragments[2]!.byte)])
    const decoded = decodeMono(new Uint8Array(fromThird))
    t.ok(decoded.length > 0 && decoded.length < q.samples, `${q.bitrate}: init + fragments from the third decode (${decoded.length} samples)`)
  }
})

t.test('bad input and a broken encoder are errors, not hangs', async (t) => {
  await t.rejects(encodeAac(FFMPEG, { sampleRate: RATE, channels: [] }, [96]), RangeError)
  await t.rejects(encodeAac(FFMPEG, { sampleRate: RATE, channels: [new Int16Array(0)] }, [96]), RangeError)
  await t.rejects(encodeAac(FFMPEG, { sampleRate: RATE, channels: [noise(1000, 1)] }, [4]), RangeError)
  await t.rejects(encodeAac('/nonexistent/ffmpeg', { sampleRate: RATE, channels: [noise(1000, 1)] }, [96]), AudioError)
  const aborted = new AbortController()
  const run = encodeAac(FFMPEG, { sampleRate: RATE, channels: [noise(RATE * 60, 1)] }, [96, 160, 320], { signal: aborted.signal })
  setTimeout(() => aborted.abort(new Error('stop')), 50)
  await t.rejects(run, { message: 'stop' }, 'an abort stops every encoder')
  t.throws(() => splitFragmentedMp4(new Uint8Array(64)), AudioError, 'garbage is not a fragmented MP4')
})
