import { panGains, releaseSamples, type Envelope, type StereoBus } from './synth-bus.js'
import { PHASE_SHIFT, TABLE_SIZE, fixedPhase, phaseIncrement } from './synth-wavetables.js'

// The loops below spell the fixed-point phase's split as literals (21 bits of fraction under an
// 11-bit table index): V8 folds literals, not imported constants, and it is worth a third.
if (PHASE_SHIFT !== 21) throw new Error('synth-chord.ts assumes 2048-entry wavetables')

export interface ChordOptions {
  table: Float32Array
  start: number
  duration: number
  frequencies: number[]
  amplitude: number
  /** Each note is doubled: one copy this many cents flat and panned left, one as many sharp and right. */
  unisonCents: number
  width: number // 0 = centre .. 1 = hard left and right
  envelope: Envelope
  send?: { buffer: Float32Array; amount: number }
}

/**
 * Renders a whole chord in one pass: every oscillator shares the envelope, so the buses are read
 * and written once per sample rather than once per note.
 */
export function renderChord(bus: StereoBus, o: ChordOptions): void {
  const sr = bus.sampleRate
  const total = bus.left.length
  const startSample = Math.round(o.start * sr)
  const from = Math.max(0, startSample)
  if (from >= total || o.frequencies.length === 0) return
  const noteOff = Math.max(from, Math.min(total, Math.round((o.start + o.duration) * sr)))
  const { attack, decay, sustain, release } = o.envelope
  const attackSamples = Math.max(1, Math.round(attack * sr))
  const attackEnd = Math.min(noteOff, startSample + attackSamples)
  const decayK = Math.exp(-1 / (Math.max(1e-4, decay) * sr))
  const releaseK = Math.exp(-1 / (Math.max(1e-4, release) * sr))

  const count = o.frequencies.length * 2
  const phases = new Int32Array(count)
  const incs = new Int32Array(count)
  o.frequencies.forEach((f, n) => {
    incs[2 * n] = phaseIncrement(f * 2 ** (-o.unisonCents / 1200), sr)
    incs[2 * n + 1] = phaseIncrement(f * 2 ** (o.unisonCents / 1200), sr)
    phases[2 * n] = fixedPhase((o.start * 7919 + n * 331) % TABLE_SIZE)
    phases[2 * n + 1] = fixedPhase((o.start * 3571 + n * 677) % TABLE_SIZE)
  })
  const [gl, gr] = panGains(-o.width)
  const scale = o.amplitude / Math.sqrt(count)
  const state = {
    env: Math.max(0, (from - startSample) / attackSamples),
    table: o.table,
    phases,
    incs,
    gains: [gl * scale, gr * scale] as const,
    send: o.send?.buffer,
    sendAmount: (o.send?.amount ?? 0) * scale,
  }
  runChord(bus, state, from, attackEnd, 1, 1 / attackSamples)
  runChord(bus, state, attackEnd, noteOff, decayK, sustain * (1 - decayK))
  runChord(bus, state, noteOff, Math.min(total, noteOff + releaseSamples(state.env, releaseK)), releaseK, 0)
}

interface ChordState {
  env: number
  table: Float32Array
  phases: Int32Array
  incs: Int32Array
  /** Gains of the flat (left-leaning) copies; the sharp copies mirror them. */
  gains: readonly [number, number]
  send: Float32Array | undefined
  sendAmount: number
}

const BLOCK = 256
const flatBlock = new Float64Array(BLOCK)
const sharpBlock = new Float64Array(BLOCK)

/**
 * Oscillators two at a time over short blocks (tight loops with both phases in registers, block
 * sums in L1 cache, one store per sample for two oscillators), then one pass that applies the
 * envelope and writes the buses. Even oscillators are the flat copies, odd ones the sharp.
 */
function runChord(bus: StereoBus, s: ChordState, from: number, to: number, mul: number, add: number): void {
  const { table, phases, incs, send, sendAmount } = s
  const [ga, gb] = s.gains
  const { left, right } = bus
  const count = phases.length
  let env = s.env
  for (let blockStart = from; blockStart < to; blockStart += BLOCK) {
    const n = Math.min(BLOCK, to - blockStart)
    for (let side = 0; side < 2; side++) {
      const out = side === 0 ? flatBlock : sharpBlock
      for (let j = side; j < count; j += 4) {
        if (j + 2 < count) addPair(out, table, phases, incs, j, j + 2, n, j === side)
        else addOne(out, table, phases, incs, j, n, j === side)
      }
    }
    for (let i = 0; i < n; i++) {
      env = env * mul + add
      const flat = flatBlock[i]! * env
      const sharp = sharpBlock[i]! * env
      const at = blockStart + i
      left[at] = left[at]! + flat * ga + sharp * gb
      right[at] = right[at]! + flat * gb + sharp * ga
      if (send !== undefined) send[at] = send[at]! + (flat + sharp) * sendAmount
    }
  }
  s.env = env
}

/** Two oscillators of one table into `out` (added, or written over when `first`). */
function addPair(out: Float64Array, table: Float32Array, phases: Int32Array, incs: Int32Array, a: number, b: number, n: number, first: boolean): void {
  const incA = incs[a]!
  const incB = incs[b]!
  let p = phases[a]!
  let q = phases[b]!
  for (let i = 0; i < n; i++) {
    const k = p >>> 21
    const m = q >>> 21
    const x = table[k]!
    const y = table[m]!
    const v = x + (p & 0x1fffff) * 4.76837158203125e-7 * (table[k + 1]! - x) + (y + (q & 0x1fffff) * 4.76837158203125e-7 * (table[m + 1]! - y))
    out[i] = first ? v : out[i]! + v
    p = (p + incA) | 0
    q = (q + incB) | 0
  }
  phases[a] = p
  phases[b] = q
}

function addOne(out: Float64Array, table: Float32Array, phases: Int32Array, incs: Int32Array, a: number, n: number, first: boolean): void {
  const inc = incs[a]!
  let p = phases[a]!
  for (let i = 0; i < n; i++) {
    const k = p >>> 21
    const x = table[k]!
    const v = x + (p & 0x1fffff) * 4.76837158203125e-7 * (table[k + 1]! - x)
    out[i] = first ? v : out[i]! + v
    p = (p + inc) | 0
  }
  phases[a] = p
}
