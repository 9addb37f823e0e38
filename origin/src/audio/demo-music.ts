import type { Pcm } from './pcm.js'
import { composeScore, type NoteEvent } from './synth-score.js'
import type { StereoBus } from './synth-bus.js'
import { renderChord } from './synth-chord.js'
import { renderHat, renderKick, renderSnare } from './synth-drums.js'
import { renderTone, type ToneOptions } from './synth-tone.js'
import { BRIGHT, HOLLOW, ROUND, WARM } from './synth-wavetables.js'
import { mixdown } from './synth-effects.js'

export interface DemoTrackSpec {
  id: string
  title: string
  artist: string
  album: string
  durationSec: number
  seed: number
}

const JUNIPER = { artist: 'Juniper Static', album: 'Paper Lanterns' }
const ORCHARD = { artist: 'The Velvet Orchard', album: 'Slow Tide Radio' }
const HARBOR = { artist: 'Harbor Lights Collective', album: 'Northbound Postcards' }
const MERIDIAN = { artist: 'Cassette Meridian', album: 'Low Sun, Long Shadows' }

/** The demo catalog: invented artists, synthesized from a seed on first start. */
export const DEMO_TRACKS: DemoTrackSpec[] = [
  { id: 'demo-01', title: 'Lanterns Over the Canal', ...JUNIPER, durationSec: 154, seed: 0x1a2b01 },
  { id: 'demo-02', title: 'Small Hours', ...JUNIPER, durationSec: 187, seed: 0x1a2b02 },
  { id: 'demo-03', title: 'Copper Kettle', ...JUNIPER, durationSec: 132, seed: 0x1a2b03 },
  { id: 'demo-04', title: 'Wind in the Antenna', ...JUNIPER, durationSec: 211, seed: 0x1a2b04 },
  { id: 'demo-05', title: 'Slow Tide', ...ORCHARD, durationSec: 168, seed: 0x2c3d05 },
  { id: 'demo-06', title: 'Orchard at Dusk', ...ORCHARD, durationSec: 229, seed: 0x2c3d06 },
  { id: 'demo-07', title: 'Sunday Ferry', ...ORCHARD, durationSec: 143, seed: 0x2c3d07 },
  { id: 'demo-08', title: 'Postcard from the North', ...HARBOR, durationSec: 196, seed: 0x3e4f08 },
  { id: 'demo-09', title: 'Quiet Engines', ...HARBOR, durationSec: 176, seed: 0x3e4f09 },
  { id: 'demo-10', title: 'Glasshouse', ...HARBOR, durationSec: 122, seed: 0x3e4f0a },
  { id: 'demo-11', title: 'Long Shadows', ...MERIDIAN, durationSec: 238, seed: 0x4a5b0b },
  { id: 'demo-12', title: 'Last Light on Route Nine', ...MERIDIAN, durationSec: 160, seed: 0x4a5b0c },
]

const PEAK = 0.89 // about -1 dBFS, headroom for the MP3 encoder's overshoot
const FADE_OUT_SEC = 4

/** Renders a seed into stereo PCM: same seed, same samples, on every machine. */
export function synthesizeTrack(spec: { seed: number; durationSec: number; sampleRate?: number }): Pcm {
  const sampleRate = spec.sampleRate ?? 44100
  if (!(spec.durationSec > 0) || !Number.isFinite(spec.durationSec)) throw new RangeError(`synthesizeTrack: durationSec must be positive (got ${spec.durationSec})`)
  if (!Number.isInteger(sampleRate) || sampleRate < 8000 || sampleRate > 192000) throw new RangeError(`synthesizeTrack: bad sampleRate ${sampleRate}`)
  const length = Math.round(spec.durationSec * sampleRate)
  const bus: StereoBus = { left: new Float32Array(length), right: new Float32Array(length), sampleRate }
  const send = new Float32Array(length)
  // The lead renders in mono (both sides of this bus are one buffer, so a centred note adds
  // sqrt(2) times its level) into a buffer of its own, which mixdown adds with its echoes.
  const leadBuffer = new Float32Array(length)
  const echo: StereoBus = { left: leadBuffer, right: leadBuffer, sampleRate }
  const score = composeScore(spec.seed, spec.durationSec)
  const beat = score.barSeconds / 4

  for (const chord of score.pads) {
    renderChord(bus, {
      table: WARM,
      start: chord.time,
      duration: chord.duration,
      frequencies: chord.midi.map(midiToHz),
      amplitude: 0.14 * chord.velocity,
      unisonCents: 6,
      width: 0.45,
      envelope: { attack: 0.35, decay: 1.2, sustain: 0.75, release: 0.35 },
      send: { buffer: send, amount: 0.6 },
    })
  }

  let arpSide = 1
  for (const note of score.notes) {
    const frequency = midiToHz(note.midi)
    switch (note.voice) {
      case 'bass':
        renderTone(bus, { ...tone(note, frequency, ROUND, 0.26), envelope: { attack: 0.006, decay: 0.22, sustain: 0.55, release: 0.05 } })
        break
      case 'lead':
        renderTone(echo, {
          ...tone(note, frequency, HOLLOW, 0.14 * Math.SQRT1_2),
          envelope: { attack: 0.02, decay: 0.35, sustain: 0.6, release: 0.1 },
          vibrato: { depth: 14, rate: 5.2, delay: 0.2 },
        })
        break
      case 'arp':
        arpSide = -arpSide
        renderTone(bus, { ...tone(note, frequency, BRIGHT, 0.07), pan: arpSide * 0.5, envelope: { attack: 0.002, decay: 0.12, sustain: 0, release: 0.06 }, send: { buffer: send, amount: 0.4 } })
        break
    }
  }

  let hatSeed = spec.seed ^ 0x5bd1e995
  for (const hit of score.drums) {
    hatSeed = (Math.imul(hatSeed, 1103515245) + 12345) | 0
    if (hit.kind === 'kick') renderKick(bus, hit.time, 0.5 * hit.velocity)
    else if (hit.kind === 'snare') renderSnare(bus, hit.time, 0.32 * hit.velocity, hatSeed, send)
    else renderHat(bus, hit.time, 0.5 * hit.velocity, hit.kind === 'open-hat', hatSeed, 0.3)
  }

  const peak = mixdown(bus, {
    send,
    lead: leadBuffer,
    echoSeconds: beat * 0.75,
    echoFeedback: 0.35,
    leadReverb: 0.3,
    reverbWet: 0.35,
    fadeInSeconds: 0.01,
    fadeOutSeconds: Math.min(FADE_OUT_SEC, spec.durationSec / 4),
  })
  const gain = peak > 0 ? (PEAK * 32767) / peak : 0
  return { sampleRate, channels: [toInt16(bus.left, gain), toInt16(bus.right, gain)] }
}

function midiToHz(midi: number): number {
  return 440 * 2 ** ((midi - 69) / 12)
}

function tone(note: NoteEvent, frequency: number, table: Float32Array, level: number): Omit<ToneOptions, 'envelope'> {
  return { table, start: note.time, duration: note.duration, frequency, amplitude: level * note.velocity, pan: 0 }
}

/**
 * Math.round(x * gain) for |x * gain| < 32768, by integer truncation of a positive number:
 * the same samples, without a Math.round call per sample of a song-length buffer.
 */
function toInt16(samples: Float32Array, gain: number): Int16Array {
  const out = new Int16Array(samples.length)
  for (let i = 0; i < samples.length; i++) out[i] = ((samples[i]! * gain + 32768.5) | 0) - 32768
  return out
}
