import t from 'tap'
import { encodeMp3 } from '../src/audio/encode.js'
import { scanMp3 } from '../src/audio/mp3-frames.js'
import { synthesizeTrack } from '../src/audio/demo-music.js'
import type { Pcm } from '../src/audio/pcm.js'

const SECONDS = 3
const music = synthesizeTrack({ seed: 11, durationSec: SECONDS })

t.test('each bitrate comes back as an MP3 of that bitrate and of the input length', async (t) => {
  const calls: Array<[number, number]> = []
  const out = await encodeMp3(music, [128, 160], { workers: 2, onProgress: (done, total) => calls.push([done, total]) })
  t.same([...out.keys()], [128, 160], 'one result per bitrate, in the order asked')
  for (const [kbps, bytes] of out) {
    const scan = scanMp3(bytes)
    t.equal(scan.bitrateKbps, kbps, `${kbps}: bitrate`)
    t.equal(scan.sampleRate, 44100, `${kbps}: sample rate`)
    t.equal(scan.channels, 2, `${kbps}: stereo`)
    const frameMs = (scan.samplesPerFrame / scan.sampleRate) * 1000
    t.ok(Math.abs(scan.durationMs - SECONDS * 1000) <= frameMs, `${kbps}: duration ${scan.durationMs} ms within one frame of ${SECONDS * 1000}`)
    const expectedBytes = (kbps * 1000 * (scan.frameOffsets.length * 1152)) / 44100 / 8
    t.ok(Math.abs(bytes.length - expectedBytes) < 1000, `${kbps}: size ${bytes.length} matches the bitrate (${expectedBytes.toFixed(0)})`)
  }

  const total = music.channels[0]!.length * 2
  t.ok(calls.length >= 2, `progress reported (${calls.length} calls)`)
  t.ok(
    calls.every(([, tot]) => tot === total),
    'total is input samples times jobs',
  )
  t.ok(
    calls.every(([done], i) => i === 0 || done >= calls[i - 1]![0]),
    'progress never goes back',
  )
  t.equal(calls.at(-1)![0], total, 'progress ends at the total')
})

t.test('mono stays mono; low-rate input keeps its rate unless the bitrate needs MPEG-1', async (t) => {
  const mono: Pcm = { sampleRate: 44100, channels: [music.channels[0]!.subarray(0, 44100)] }
  const m = scanMp3((await encodeMp3(mono, [96], { workers: 1 })).get(96)!)
  t.equal(m.channels, 1)
  t.equal(m.bitrateKbps, 96)

  const low = synthesizeTrack({ seed: 5, durationSec: 1, sampleRate: 22050 })
  const out = await encodeMp3(low, [64, 320], { workers: 2 })
  const at64 = scanMp3(out.get(64)!)
  const at320 = scanMp3(out.get(320)!)
  t.equal(at64.sampleRate, 22050, '64 kbit/s: MPEG-2 at the input rate')
  t.equal(at64.bitrateKbps, 64)
  t.equal(at320.sampleRate, 44100, '320 kbit/s does not exist in MPEG-2: encoded from a 44.1 kHz copy')
  t.equal(at320.bitrateKbps, 320)
  t.ok(Math.abs(at320.durationMs - 1000) <= 27, `duration kept (${at320.durationMs} ms)`)
})

t.test('bad arguments are refused before any work', async (t) => {
  await t.rejects(encodeMp3(music, [100]), RangeError, 'not an MP3 bitrate')
  await t.rejects(encodeMp3({ sampleRate: 44100, channels: [] }, [128]), RangeError, 'no channels')
  await t.rejects(encodeMp3({ sampleRate: 44100, channels: [new Int16Array(10), new Int16Array(11)] }, [128]), RangeError, 'unequal channels')
  await t.rejects(encodeMp3({ sampleRate: 44100, channels: [new Int16Array(0)] }, [128]), RangeError, 'no samples')
  await t.rejects(encodeMp3(music, [128], { workers: Number.NaN }), RangeError, 'bad worker count')
  const aborted = AbortSignal.abort()
  await t.rejects(encodeMp3(music, [128], { signal: aborted }), { name: 'AbortError' }, 'already aborted')
  t.same(await encodeMp3(music, []), new Map(), 'no bitrates, no work')
})

t.test('abort stops the workers and rejects', async (t) => {
  const long = synthesizeTrack({ seed: 3, durationSec: 8 })
  const controller = new AbortController()
  let progressAfterAbort = 0
  let aborted = false
  const started = encodeMp3(long, [320, 256], {
    workers: 2,
    signal: controller.signal,
    onProgress: () => {
      if (aborted) progressAfterAbort++
      else {
        aborted = true
        controller.abort()
      }
    },
  })
  await t.rejects(started, { name: 'AbortError' })
  await new Promise((resolve) => setTimeout(resolve, 200))
  t.equal(progressAfterAbort, 0, 'no progress after the abort')
  const workers = process.getActiveResourcesInfo().filter((r) => /Worker|MessagePort/.test(r))
  t.same(workers, [], 'no worker threads left running')
})
