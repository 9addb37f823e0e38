import t from 'tap'
import { createHash } from 'node:crypto'
import { DEMO_TRACKS, synthesizeTrack } from '../src/audio/demo-music.js'
import { composeScore } from '../src/audio/synth-score.js'
import { dominantFrequency, rms } from '../../test-support/audio.js'

const RATE = 44100
const SECONDS = 24

function digest(channels: Int16Array[]): string {
  const hash = createHash('sha256')
  for (const c of channels) hash.update(new Uint8Array(c.buffer, c.byteOffset, c.byteLength))
  return hash.digest('hex')
}

/** Semitone (MIDI number) of the strongest partial in each of `count` windows. */
function pitchesOverTime(samples: Int16Array, count: number, size = 8192): number[] {
  const step = Math.floor((samples.length - size) / count)
  return Array.from({ length: count }, (_, w) => {
    const hz = dominantFrequency(samples, w * step, size, RATE, 60, 2000)
    return Math.round(69 + 12 * Math.log2(hz / 440))
  })
}

const a = synthesizeTrack({ seed: 101, durationSec: SECONDS })
const b = synthesizeTrack({ seed: 202, durationSec: SECONDS })

t.test('the catalog: 12 tracks, 120-240 s, slugs, a few albums', async (t) => {
  t.equal(DEMO_TRACKS.length, 12)
  t.same(
    DEMO_TRACKS.map((x) => x.id),
    Array.from({ length: 12 }, (_, i) => `demo-${String(i + 1).padStart(2, '0')}`),
  )
  t.ok(
    DEMO_TRACKS.every((x) => x.durationSec >= 120 && x.durationSec <= 240),
    'durations in range',
  )
  const albums = new Set(DEMO_TRACKS.map((x) => x.album))
  t.ok(albums.size >= 3 && albums.size <= 4, `${albums.size} albums`)
  t.equal(new Set(DEMO_TRACKS.map((x) => x.seed)).size, 12, 'seeds differ')
  t.equal(new Set(DEMO_TRACKS.map((x) => x.title)).size, 12, 'titles differ')
  const tempos = new Set(DEMO_TRACKS.map((x) => composeScore(x.seed, x.durationSec).bpm))
  const keys = new Set(DEMO_TRACKS.map((x) => composeScore(x.seed, x.durationSec).key))
  t.ok(tempos.size >= 6 && keys.size >= 4, `tempos and keys vary across the catalog (${tempos.size} tempos, ${keys.size} keys)`)
})

t.test('exact length, stereo, deterministic', async (t) => {
  t.equal(a.sampleRate, RATE)
  t.equal(a.channels.length, 2)
  t.equal(a.channels[0]!.length, SECONDS * RATE)
  t.equal(a.channels[1]!.length, SECONDS * RATE)
  t.equal(digest(synthesizeTrack({ seed: 101, durationSec: SECONDS }).channels), digest(a.channels), 'same seed, same samples')
  t.not(digest(b.channels), digest(a.channels), 'another seed, other samples')
  const short = synthesizeTrack({ seed: 101, durationSec: 1.5, sampleRate: 22050 })
  t.equal(short.sampleRate, 22050)
  t.equal(short.channels[0]!.length, 33075)
  t.throws(() => synthesizeTrack({ seed: 1, durationSec: 0 }), RangeError)
  t.throws(() => synthesizeTrack({ seed: 1, durationSec: 10, sampleRate: 1 }), RangeError)
})

t.test('it is music: loud enough, not clipped, stereo, many pitches over time', async (t) => {
  for (const [name, pcm] of [
    ['seed 101', a],
    ['seed 202', b],
  ] as const) {
    const [left, right] = pcm.channels as [Int16Array, Int16Array]
    const level = rms(left)
    t.ok(level > 0.05 && level < 0.5, `${name}: RMS ${level.toFixed(3)} of full scale`)
    let peak = 0
    let sideEnergy = 0
    for (let i = 0; i < left.length; i++) {
      peak = Math.max(peak, Math.abs(left[i]!), Math.abs(right[i]!))
      sideEnergy += (left[i]! - right[i]!) ** 2
    }
    t.ok(peak < 32767 && peak > 20000, `${name}: peak ${peak}, below clipping`)
    t.ok(Math.sqrt(sideEnergy / left.length) / 32768 > 0.005, `${name}: left and right differ (stereo)`)

    // Silence only at the very start and end: every second in between carries sound.
    let quietSeconds = 0
    for (let s = 1; s < SECONDS - 2; s++) if (rms(left.subarray(s * RATE, (s + 1) * RATE)) < 0.01) quietSeconds++
    t.equal(quietSeconds, 0, `${name}: no silent second`)

    const pitches = pitchesOverTime(left, 24)
    const distinct = new Set(pitches)
    t.ok(distinct.size >= 4, `${name}: ${distinct.size} distinct dominant pitches over 24 windows (${pitches.join(' ')})`)
  }
  t.notSame(pitchesOverTime(a.channels[0]!, 24), pitchesOverTime(b.channels[0]!, 24), 'the two seeds play different notes')
})

t.test('sections change the texture: the chorus is fuller than the intro', async (t) => {
  const score = composeScore(101, SECONDS)
  const intro = score.sections.find((s) => s.kind === 'intro')!
  const body = score.sections.find((s) => s.kind !== 'intro')!
  const seconds = (bar: number): number => bar * score.barSeconds
  const level = (fromSec: number, toSec: number): number => rms(a.channels[0]!.subarray(Math.round(fromSec * RATE), Math.round(toSec * RATE)))
  const introLevel = level(seconds(intro.startBar) + 0.5, seconds(intro.startBar + intro.bars))
  const bodyLevel = level(seconds(body.startBar), seconds(body.startBar + Math.min(body.bars, 4)))
  t.ok(bodyLevel > introLevel * 1.3, `${body.kind} RMS ${bodyLevel.toFixed(3)} vs intro ${introLevel.toFixed(3)}`)
  t.ok(score.drums.some((d) => d.kind === 'kick') && score.drums.some((d) => d.kind === 'snare') && score.drums.some((d) => d.kind === 'hat'), 'kick, snare and hats')
  t.ok(new Set(score.notes.filter((n) => n.voice === 'lead').map((n) => n.midi)).size >= 5, 'the melody uses at least five notes')
})
