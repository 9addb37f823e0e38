/** What every instrument of the demo synthesizer shares: the buses it adds into, envelopes, panning. */

export interface StereoBus {
  left: Float32Array
  right: Float32Array
  sampleRate: number
}

export interface Envelope {
  attack: number // seconds, linear
  /** Time constant (s) of the fall from 1 to `sustain` after the attack. */
  decay: number
  sustain: number
  /** Time constant (s) of the fall to silence after the note ends. */
  release: number
}

/** Below this a release is cut off: -40 dB, under the rest of the mix and the reverb tail. */
const SILENT = 0.01

/** Samples until an exponential release at `releaseK` per sample falls from `level` to SILENT. */
export function releaseSamples(level: number, releaseK: number): number {
  return level > SILENT ? Math.ceil(Math.log(SILENT / level) / Math.log(releaseK)) : 0
}

/** Constant-power pan. */
export function panGains(pan: number): [number, number] {
  const angle = ((Math.max(-1, Math.min(1, pan)) + 1) * Math.PI) / 4
  return [Math.cos(angle), Math.sin(angle)]
}
