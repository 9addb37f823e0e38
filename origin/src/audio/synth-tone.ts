import { panGains, releaseSamples, type Envelope, type StereoBus } from './synth-bus.js'
import { PHASE_SHIFT, SINE, TABLE_SIZE, fixedPhase, phaseIncrement } from './synth-wavetables.js'

// Fixed-point phases (see synth-wavetables.ts), their split spelled as literals for V8 to fold.
if (PHASE_SHIFT !== 21) throw new Error('synth-tone.ts assumes 2048-entry wavetables')

export interface ToneOptions {
  table: Float32Array
  start: number // seconds
  duration: number // seconds, before the release
  frequency: number
  amplitude: number
  pan: number // -1 left .. 1 right
  envelope: Envelope
  vibrato?: { depth: number; rate: number; delay: number }
  /** Also adds the note, scaled, into this mono buffer (a reverb send). */
  send?: { buffer: Float32Array; amount: number }
}

/**
 * Renders one pitched note into the bus: attack, decay and release as three runs of one tight
 * loop, where the envelope follows env = env * mul + add.
 */
export function renderTone(bus: StereoBus, o: ToneOptions): void {
  const sr = bus.sampleRate
  const total = bus.left.length
  const startSample = Math.round(o.start * sr)
  const from = Math.max(0, startSample)
  if (from >= total) return
  const noteOff = Math.max(from, Math.min(total, Math.round((o.start + o.duration) * sr)))
  const { attack, decay, sustain, release } = o.envelope
  const attackSamples = Math.max(1, Math.round(attack * sr))
  const attackEnd = Math.min(noteOff, startSample + attackSamples)
  const decayK = Math.exp(-1 / (Math.max(1e-4, decay) * sr))
  const releaseK = Math.exp(-1 / (Math.max(1e-4, release) * sr))
  const [gl, gr] = panGains(o.pan)

  const voice: Voice = {
    table: o.table,
    left: bus.left,
    right: bus.right,
    send: o.send?.buffer,
    sendAmount: (o.send?.amount ?? 0) * o.amplitude,
    gl: gl * o.amplitude,
    gr: gr * o.amplitude,
    inc: phaseIncrement(o.frequency, sr),
    phase: fixedPhase((o.start * 7919) % TABLE_SIZE), // differing start phases keep stacked notes from cancelling
    // A note that started before the buffer (timing jitter at 0 s) is already that far into its attack.
    env: (from - startSample) / attackSamples,
    vibrato: o.vibrato ? { ...o.vibrato, phase: 0, start: from + Math.round(o.vibrato.delay * sr), sampleRate: sr } : undefined,
  }
  run(voice, from, attackEnd, 1, 1 / attackSamples)
  run(voice, attackEnd, noteOff, decayK, sustain * (1 - decayK))
  run(voice, noteOff, Math.min(total, noteOff + releaseSamples(voice.env, releaseK)), releaseK, 0)
}

interface Voice {
  table: Float32Array
  left: Float32Array
  right: Float32Array
  send: Float32Array | undefined
  sendAmount: number
  gl: number
  gr: number
  /** Fixed point (see synth-wavetables.ts). */
  inc: number
  phase: number
  env: number
  vibrato: { depth: number; rate: number; delay: number; phase: number; start: number; sampleRate: number } | undefined
}

function run(o: Voice, from: number, to: number, mul: number, add: number): void {
  if (to <= from) return
  if (o.vibrato) {
    runVibrato(o, from, to, mul, add)
    return
  }
  const { table, left, right, send, sendAmount, inc, gl, gr } = o
  let { phase, env } = o
  for (let i = from; i < to; i++) {
    env = env * mul + add
    const k = phase >>> 21
    const a = table[k]!
    const v = (a + (phase & 0x1fffff) * 4.76837158203125e-7 * (table[k + 1]! - a)) * env
    left[i] = left[i]! + v * gl
    right[i] = right[i]! + v * gr
    if (send !== undefined) send[i] = send[i]! + v * sendAmount
    phase = (phase + inc) | 0
  }
  o.phase = phase
  o.env = env
}

/** The lead's loop: the pitch wobbles after a delay, the wobble fading in over 0.3 s. */
function runVibrato(o: Voice, from: number, to: number, mul: number, add: number): void {
  const vib = o.vibrato!
  const { table, left, right, send, sendAmount, inc, gl, gr } = o
  const depth = 2 ** (vib.depth / 1200) - 1
  const vibInc = phaseIncrement(vib.rate, vib.sampleRate)
  const ramp = 1 / (0.3 * vib.sampleRate)
  const vibStart = vib.start
  let { phase, env } = o
  let vibPhase = vib.phase
  for (let i = from; i < to; i++) {
    env = env * mul + add
    const k = phase >>> 21
    const a = table[k]!
    const v = (a + (phase & 0x1fffff) * 4.76837158203125e-7 * (table[k + 1]! - a)) * env
    left[i] = left[i]! + v * gl
    right[i] = right[i]! + v * gr
    if (send !== undefined) send[i] = send[i]! + v * sendAmount
    if (i >= vibStart) {
      const r = (i - vibStart) * ramp
      // ToInt32 of the sum is the sum modulo 2^32: the wrap of a fixed-point phase.
      // biome-ignore lint/complexity/useMathMinMax: a NaN ramp (0 * Infinity) must give 1 here, as the ternary does; Math.min would give NaN
      phase = (phase + inc * (1 + depth * (r < 1 ? r : 1) * SINE[vibPhase >>> 21]!)) | 0
      vibPhase = (vibPhase + vibInc) | 0
    } else {
      phase = (phase + inc) | 0
    }
  }
  o.phase = phase
  o.env = env
  vib.phase = vibPhase
}
