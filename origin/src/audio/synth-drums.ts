import { seeded } from '../../../protocol/index.js'
import { panGains, type StereoBus } from './synth-bus.js'
import { SINE, TABLE_SIZE } from './synth-wavetables.js'

/** Drums from sine sweeps and noise; the noise is seeded (protocol's `seeded`), so every hit is reproducible. */

/** Kick: a sine whose pitch falls fast from about 160 Hz to 48 Hz. */
export function renderKick(bus: StereoBus, start: number, amplitude: number): void {
  const sr = bus.sampleRate
  const from = Math.round(start * sr)
  const to = Math.min(bus.left.length, from + Math.round(0.45 * sr))
  const sweepK = Math.exp(-1 / (0.03 * sr))
  const ampK = Math.exp(-1 / (0.16 * sr))
  let sweep = 1
  let env = amplitude
  let phase = 0
  for (let i = Math.max(0, from); i < to; i++) {
    const freq = 48 + 112 * sweep
    const k = phase | 0
    // A 2 ms ramp in keeps the start from clicking.
    const v = SINE[k]! * env * Math.min(1, (i - from) / (0.002 * sr))
    bus.left[i] = bus.left[i]! + v
    bus.right[i] = bus.right[i]! + v
    phase += (freq * TABLE_SIZE) / sr
    if (phase >= TABLE_SIZE) phase -= TABLE_SIZE
    sweep *= sweepK
    env *= ampK
  }
}

/** Snare: a short tone for the body and high-passed noise for the wires. */
export function renderSnare(bus: StereoBus, start: number, amplitude: number, seed: number, send?: Float32Array): void {
  const sr = bus.sampleRate
  const from = Math.round(start * sr)
  const to = Math.min(bus.left.length, from + Math.round(0.35 * sr))
  const toneK = Math.exp(-1 / (0.045 * sr))
  const noiseK = Math.exp(-1 / (0.08 * sr))
  const inc = (185 * TABLE_SIZE) / sr
  const random = seeded(seed)
  let tone = amplitude * 0.6
  let noise = amplitude * 0.7
  let phase = 0
  let prev = 0
  for (let i = Math.max(0, from); i < to; i++) {
    const white = random() * 2 - 1
    const high = white - prev * 0.6
    prev = white
    const v = SINE[phase | 0]! * tone + high * noise
    bus.left[i] = bus.left[i]! + v * 0.95
    bus.right[i] = bus.right[i]! + v
    if (send) send[i] = send[i]! + v * 0.35
    phase += inc
    if (phase >= TABLE_SIZE) phase -= TABLE_SIZE
    tone *= toneK
    noise *= noiseK
  }
}

/** Hi-hat: noise through a steep first-difference high-pass, closed or open. */
export function renderHat(bus: StereoBus, start: number, amplitude: number, open: boolean, seed: number, pan: number): void {
  const sr = bus.sampleRate
  const from = Math.round(start * sr)
  const to = Math.min(bus.left.length, from + Math.round((open ? 0.4 : 0.09) * sr))
  const k = Math.exp(-1 / ((open ? 0.11 : 0.022) * sr))
  const [gl, gr] = panGains(pan)
  const random = seeded(seed)
  let env = amplitude
  let p1 = 0
  let p2 = 0
  for (let i = Math.max(0, from); i < to; i++) {
    const white = random() * 2 - 1
    const high = white - 2 * p1 + p2
    p2 = p1
    p1 = white
    const v = high * env * 0.25
    bus.left[i] = bus.left[i]! + v * gl
    bus.right[i] = bus.right[i]! + v * gr
    env *= k
  }
}
