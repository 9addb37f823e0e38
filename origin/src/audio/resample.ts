/**
 * Band-limited resampling of one channel (windowed sinc, Kaiser window). For integer rates whose
 * ratio reduces to at most MAX_PHASES output phases (all the usual ones: 96000 -> 44100 is 147),
 * the filter is precomputed per phase and the inner loop is a plain multiply-add; otherwise the
 * kernel is tabulated at a fine step and read with linear interpolation.
 */

const ZERO_CROSSINGS = 12
const TABLE_STEPS = 512 // kernel samples per input sample
const KAISER_BETA = 8
/** Passband edge as a fraction of the lower Nyquist frequency; MP3 low-passes well below it anyway. */
const CUTOFF = 0.92
const MAX_PHASES = 4096

function resampledLength(length: number, fromRate: number, toRate: number): number {
  return Math.round((length * toRate) / fromRate)
}

export function resample(input: Float32Array, fromRate: number, toRate: number): Float32Array {
  if (!(fromRate > 0) || !(toRate > 0)) throw new RangeError(`resample: rates must be positive (got ${fromRate} -> ${toRate})`)
  if (fromRate === toRate) return input.slice()
  const outLength = resampledLength(input.length, fromRate, toRate)
  const out = new Float32Array(outLength)
  if (input.length === 0) return out

  const ratio = toRate / fromRate
  // Cut-off in cycles per input sample (normalised so 1 is the input's Nyquist frequency).
  const fc = Math.min(1, ratio) * CUTOFF
  const halfWidth = ZERO_CROSSINGS / fc // in input samples
  const table = kernelTable(fc, halfWidth)
  if (Number.isInteger(fromRate) && Number.isInteger(toRate)) {
    const g = gcd(fromRate, toRate)
    const phases = toRate / g
    if (phases <= MAX_PHASES) return resamplePolyphase(input, out, fromRate / g, phases, halfWidth, table)
  }
  const tableMax = table.length - 2
  const last = input.length - 1
  const step = 1 / ratio

  for (let j = 0; j < outLength; j++) {
    const t = j * step
    let i0 = Math.ceil(t - halfWidth)
    let i1 = Math.floor(t + halfWidth)
    if (i0 < 0) i0 = 0
    if (i1 > last) i1 = last
    let acc = 0
    for (let i = i0; i <= i1; i++) {
      let d = (i - t) * TABLE_STEPS
      if (d < 0) d = -d
      const k = d | 0
      if (k > tableMax) continue
      const a = table[k]!
      acc += (input[i] as number) * (a + (d - k) * (table[k + 1]! - a))
    }
    out[j] = acc
  }
  return out
}

/**
 * Output j sits at input position j * step / phases: whole part `base`, fractional phase
 * `(j * step) % phases`. Each phase has its own taps, for inputs base - taps/2 + 1 .. base + taps/2.
 */
function resamplePolyphase(input: Float32Array, out: Float32Array, step: number, phases: number, halfWidth: number, table: Float64Array): Float32Array {
  const half = Math.ceil(halfWidth)
  const taps = 2 * half
  const coefficients = new Float64Array(phases * taps)
  for (let p = 0; p < phases; p++) {
    const frac = p / phases
    for (let k = 0; k < taps; k++) coefficients[p * taps + k] = kernelAt(table, k - half + 1 - frac)
  }
  const last = input.length - 1
  let base = 0
  let phase = 0
  for (let j = 0; j < out.length; j++) {
    const first = base - half + 1
    const c = phase * taps
    let acc = 0
    if (first >= 0 && first + taps - 1 <= last) {
      for (let k = 0; k < taps; k++) acc += input[first + k]! * coefficients[c + k]!
    } else {
      for (let k = 0; k < taps; k++) {
        const i = first + k
        if (i >= 0 && i <= last) acc += input[i]! * coefficients[c + k]!
      }
    }
    out[j] = acc
    phase += step
    while (phase >= phases) {
      phase -= phases
      base++
    }
  }
  return out
}

function kernelAt(table: Float64Array, x: number): number {
  const d = Math.abs(x) * TABLE_STEPS
  const k = Math.floor(d)
  if (k + 1 >= table.length) return 0
  return table[k]! + (d - k) * (table[k + 1]! - table[k]!)
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b]
  return a
}

function kernelTable(fc: number, halfWidth: number): Float64Array {
  const size = Math.ceil(halfWidth * TABLE_STEPS) + 2
  const table = new Float64Array(size)
  const i0Beta = besselI0(KAISER_BETA)
  for (let k = 0; k < size; k++) {
    const x = k / TABLE_STEPS
    if (x >= halfWidth) break
    const r = x / halfWidth
    const window = besselI0(KAISER_BETA * Math.sqrt(1 - r * r)) / i0Beta
    const arg = Math.PI * fc * x
    const sinc = x === 0 ? 1 : Math.sin(arg) / arg
    table[k] = fc * sinc * window
  }
  return table
}

function besselI0(x: number): number {
  let sum = 1
  let term = 1
  const half = x / 2
  for (let k = 1; k < 50; k++) {
    term *= (half / k) * (half / k)
    sum += term
    if (term < sum * 1e-12) break
  }
  return sum
}
