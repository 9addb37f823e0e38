import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { runChorus } from '../../test-support/fixtures.js'
import type { Mp4Quality } from '../../protocol/index.js'
import { trackTiming } from '../src/core/transition.js'
import { renderTracks } from '../src/render.js'
import { envelope, longestQuietRun, maxStep, readWav, sine, sineResidual, wavS16 } from './audio.js'
import { API_KEY, startStack } from './stack.js'

const RATE = 44100
const HZ = 440
const AMPLITUDE = 0.5
const TOTAL = 8 * RATE
/** Where the sine is cut in two: not a multiple of the AAC frame (1024), nor of anything else. */
const SPLIT = 176_401

/**
 * The measures at a join of two halves of one sine: the largest sample-to-sample step within
 * ±10 ms, the envelope and the longest quiet run within ±100 ms, the RMS left by a fitted 440 Hz
 * sine within ±50 ms; each against a steady stretch of one track (1 s, ending 0.5 s before).
 */
function measureJoin(x: Float32Array, join: number) {
  const ms = RATE / 1000
  const steady = { from: join - 1.5 * RATE, to: join - 0.5 * RATE }
  const period = Math.ceil(RATE / HZ) + 8
  return {
    step: maxStep(x, join - 10 * ms, join + 10 * ms),
    steadyStep: maxStep(x, steady.from, steady.to),
    envelope: envelope(x, join - 100 * ms, join + 100 * ms, period),
    steadyEnvelope: envelope(x, steady.from, steady.to, period),
    quietRun: longestQuietRun(x, join - 100 * ms, join + 100 * ms, 0.1 * AMPLITUDE),
    residual: sineResidual(x, join - 50 * ms, join + 50 * ms, HZ, RATE),
    steadyResidual: sineResidual(x, steady.from, steady.from + 100 * ms, HZ, RATE),
  }
}

type Measures = ReturnType<typeof measureJoin>
const describe = (m: Measures) =>
  `step ${m.step.toFixed(4)} (steady ${m.steadyStep.toFixed(4)}), envelope ${m.envelope.min.toFixed(3)}..${m.envelope.max.toFixed(3)} (steady ${m.steadyEnvelope.min.toFixed(3)}..${m.steadyEnvelope.max.toFixed(3)}), quiet run ${m.quietRun}, residual ${m.residual.toFixed(4)} (steady ${m.steadyResidual.toFixed(4)})`

/**
 * Gapless and click-free: the sine goes on through the join as it does inside a track. ffmpeg's
 * AAC encoder renders a steady tone with an envelope that wanders by up to ~12 % (its
 * scalefactors move in 1.5 dB steps), inside a track as much as at a join: so the envelope is
 * held to the steady stretch's own range, give or take 5 % of the amplitude, and above 80 % of it.
 */
function seamless(m: Measures): boolean {
  return (
    m.step <= 1.5 * m.steadyStep &&
    m.envelope.min >= Math.max(0.8 * AMPLITUDE, m.steadyEnvelope.min - 0.05 * AMPLITUDE) &&
    m.envelope.max <= m.steadyEnvelope.max + 0.05 * AMPLITUDE &&
    m.quietRun < 10 &&
    m.residual <= Math.max(2 * m.steadyResidual, 0.05 * AMPLITUDE)
  )
}

t.test('two halves of one sine, ingested as two AAC tracks, render back into one sine: no gap, no click, the same length', async (t) => {
  const whole = sine(TOTAL, RATE, HZ, AMPLITUDE)
  const stack = await startStack(
    t,
    [
      {
        trackId: 'a',
        wav: wavS16(
          whole.map((c) => c.subarray(0, SPLIT)),
          RATE,
        ),
      },
      {
        trackId: 'b',
        wav: wavS16(
          whole.map((c) => c.subarray(SPLIT)),
          RATE,
        ),
      },
    ],
    { bitrates: [160] },
  )
  const dir = await mkdtemp(join(tmpdir(), 'chorus-gapless-'))
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

  const qa = (await stack.manifest('a')).qualities[0]! as Mp4Quality
  const qb = (await stack.manifest('b')).qualities[0]! as Mp4Quality
  t.equal(qa.codec, 'aac')
  t.same([qa.samples, qb.samples], [SPLIT, TOTAL - SPLIT], "the manifests carry each half's exact length")
  t.ok(qa.delay > 0 && qb.delay > 0, `and the encoder priming (${qa.delay} samples)`)

  const run = await runChorus(['play', 'a', 'b', ...common, '--json', '--out', join(dir, 'join.wav')])
  t.equal(run.code, 0, run.stderr)
  const stats = JSON.parse(run.stdout.trim().split('\n').at(-1)!)
  t.same(
    stats.tracks.map((s: { trackId: string }) => s.trackId),
    ['a', 'b'],
    'both tracks played, in order',
  )
  const joined = readWav(await readFile(join(dir, 'join.wav')))
  t.equal(joined.sampleRate, RATE)
  t.equal(joined.channels.length, 2)
  const x = joined.channels[0]!
  t.ok(Math.abs(x.length - TOTAL) <= 4, `the length of the source within a few samples (${x.length} against ${TOTAL})`)
  const m = measureJoin(x, SPLIT)
  t.ok(seamless(m), `seamless at the join: ${describe(m)}`)
  // The same measure somewhere without a join, for scale.
  const control = measureJoin(x, Math.round(TOTAL * 0.75))
  t.ok(seamless(control), `and the measure passes inside a track: ${describe(control)}`)

  await t.test('the measure can fail: the same tracks joined without trimming (priming and padding kept) do not pass', async (t) => {
    const tracks = await Promise.all(
      (['a', 'b'] as const).map(async (id) => {
        const manifest = await stack.manifest(id)
        const q = manifest.qualities[0]!
        // What the SDK streamed: the same bytes (aac-playback.test.ts checks this), init + fragments.
        return { bytes: await stack.reference(id, 160), codec: q.codec, timing: trackTiming(q, manifest.durationMs), channels: q.channels }
      }),
    )
    const untrimmed = (await renderTracks(tracks, { trim: false })).channels[0]!
    // Measured where the first track's audio ends (after its priming): the next sample should be
    // the second track's first; its padding and the second's priming come instead.
    const bad = measureJoin(untrimmed, qa.delay + qa.samples)
    t.notOk(seamless(bad), `not seamless: ${describe(bad)}`)
    t.ok(bad.quietRun >= 1024, 'a gap of at least the priming')
    // Nor does a join that drops half a period of the second track (a jump in phase: a click, no gap).
    const [ta, tb] = tracks as [(typeof tracks)[0], (typeof tracks)[0]]
    const shifted = { ...tb, timing: { ...tb.timing, delay: tb.timing.delay + 50, samples: tb.timing.samples - 50 } }
    const jumped = measureJoin((await renderTracks([ta, shifted])).channels[0]!, SPLIT)
    t.notOk(seamless(jumped), `50 samples off, not seamless either: ${describe(jumped)}`)
    const trimmed = (await renderTracks(tracks)).channels[0]!
    t.ok(
      trimmed.every((v, i) => v === x[i]),
      'and trimmed, the same render gives what `chorus play` wrote',
    )
  })

  await t.test('--crossfade 2: 2 s shorter, the level across the join within 3 dB', async (t) => {
    const run = await runChorus(['play', 'a', 'b', ...common, '--crossfade', '2', '--out', join(dir, 'fade.wav')])
    t.equal(run.code, 0, run.stderr)
    const y = readWav(await readFile(join(dir, 'fade.wav'))).channels[0]!
    t.ok(Math.abs(y.length - (TOTAL - 2 * RATE)) <= 4, `2 s shorter (${y.length} against ${TOTAL - 2 * RATE})`)
    // The overlap runs from 2 s before the first track's end to its end. The halves are in phase
    // there (2 s of 440 Hz is whole periods), so equal power rises to +3 dB in the middle.
    const fadeStart = SPLIT - 2 * RATE
    const level = envelope(y, fadeStart - RATE / 4, SPLIT + RATE / 4, Math.ceil(RATE / HZ) + 8)
    const dB = (v: number) => 20 * Math.log10(v / AMPLITUDE)
    t.ok(dB(level.max) <= 3.2 && dB(level.min) >= -3, `level ${dB(level.min).toFixed(2)}..${dB(level.max).toFixed(2)} dB`)
    t.ok(dB(level.max) >= 2, 'and it does rise in the middle: the fade is there')
  })

  await t.test('usage: several tracks need a WAV; --crossfade needs a WAV and 0-12 s', async (t) => {
    t.equal((await runChorus(['play', 'a', 'b', ...common, '--out', join(dir, 'x.m4a')])).code, 2)
    t.equal((await runChorus(['play', 'a', ...common, '--crossfade', '13', '--out', join(dir, 'x.wav')])).code, 2)
    t.equal((await runChorus(['play', 'a', ...common, '--crossfade', '2', '--out', join(dir, 'x.m4a')])).code, 2)
  })
})
