/** Single-cycle waveforms read with linear interpolation: cheaper than Math.sin per sample, and band-limited by construction. */

export const TABLE_SIZE = 2048

/**
 * Oscillator phases are 32-bit fixed point: a whole cycle is 2^32, so a phase wraps by itself
 * in integer addition (`(p + inc) | 0`, no compare and subtract on the loop's critical path),
 * the top log2(TABLE_SIZE) bits index the table and the low PHASE_SHIFT bits are the
 * interpolation fraction.
 */
export const PHASE_SHIFT = 32 - Math.log2(TABLE_SIZE)

/** Per-sample phase increment of a frequency, in fixed point (wrapped into an int32: adds stay exact modulo 2^32). */
export function phaseIncrement(frequency: number, sampleRate: number): number {
  return Math.round((frequency / sampleRate) * 2 ** 32) | 0
}

/** A phase given in table steps (0 <= steps < TABLE_SIZE), in fixed point. */
export function fixedPhase(steps: number): number {
  return Math.floor((steps / TABLE_SIZE) * 2 ** 32) | 0
}

/** One period of a waveform from harmonic amplitudes (index 0 = fundamental), with a guard sample. */
function wavetable(harmonics: number[]): Float32Array {
  const table = new Float32Array(TABLE_SIZE + 1)
  let peak = 0
  for (let i = 0; i < TABLE_SIZE; i++) {
    let v = 0
    for (let h = 0; h < harmonics.length; h++) v += harmonics[h]! * Math.sin((2 * Math.PI * (h + 1) * i) / TABLE_SIZE)
    table[i] = v
    peak = Math.max(peak, Math.abs(v))
  }
  for (let i = 0; i < TABLE_SIZE; i++) table[i] = table[i]! / peak
  table[TABLE_SIZE] = table[0]!
  return table
}

export const SINE = wavetable([1])
/** Soft sawtooth: 1/n harmonics rolled off early, for pads. */
export const WARM = wavetable([1, 0.5, 0.3, 0.2, 0.12, 0.08, 0.05, 0.03])
/** Round bass: mostly fundamental, a touch of second and third. */
export const ROUND = wavetable([1, 0.35, 0.12])
/** Hollow, clarinet-like: odd harmonics, for the lead. */
export const HOLLOW = wavetable([1, 0.08, 0.33, 0.05, 0.14, 0.02, 0.06])
/** Bright pluck for arpeggios. */
export const BRIGHT = wavetable([1, 0.6, 0.4, 0.3, 0.2, 0.15, 0.1, 0.07, 0.05])
