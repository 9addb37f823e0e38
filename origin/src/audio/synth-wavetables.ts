/** Single-cycle waveforms read with linear interpolation: cheaper than Math.sin per sample, and band-limited by construction. */

export const TABLE_SIZE = 2048

/** One period of a waveform from harmonic amplitudes (index 0 = fundamental), with a guard sample. */
export function wavetable(harmonics: number[]): Float32Array {
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
