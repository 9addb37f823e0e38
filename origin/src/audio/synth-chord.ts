import { panGains, releaseSamples, type Envelope, type StereoBus } from './synth-bus.js'
import { TABLE_SIZE } from './synth-wavetables.js'

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
  const phases = new Float64Array(count)
  const incs = new Float64Array(count)
  o.frequencies.forEach((f, n) => {
    incs[2 * n] = (f * TABLE_SIZE * 2 ** (-o.unisonCents / 1200)) / sr
    incs[2 * n + 1] = (f * TABLE_SIZE * 2 ** (o.unisonCents / 1200)) / sr
    phases[2 * n] = (o.start * 7919 + n * 331) % TABLE_SIZE
    phases[2 * n + 1] = (o.start * 3571 + n * 677) % TABLE_SIZE
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
  phases: Float64Array
  incs: Float64Array
  /** Gains of the flat (left-leaning) copies; the sharp copies mirror them. */
  gains: readonly [number, number]
  send: Float32Array | undefined
  sendAmount: number
}

const BLOCK = 256
const flatBlock = new Float32Array(BLOCK)
const sharpBlock = new Float32Array(BLOCK)

/**
 * Oscillator by oscillator over short blocks (tight loops with the phase in a register, block
 * sums in L1 cache), then one pass that applies the envelope and writes the buses.
 */
function runChord(bus: StereoBus, s: ChordState, from: number, to: number, mul: number, add: number): void {
  const { table, phases, incs, send, sendAmount } = s
  const [ga, gb] = s.gains
  const { left, right } = bus
  const count = phases.length
  let env = s.env
  for (let blockStart = from; blockStart < to; blockStart += BLOCK) {
    const n = Math.min(BLOCK, to - blockStart)
    flatBlock.fill(0, 0, n)
    sharpBlock.fill(0, 0, n)
    for (let j = 0; j < count; j++) {
      const out = (j & 1) === 0 ? flatBlock : sharpBlock
      const inc = incs[j]!
      let p = phases[j]!
      for (let i = 0; i < n; i++) {
        const k = p | 0
        const a = table[k]!
        out[i] = out[i]! + a + (p - k) * (table[k + 1]! - a)
        p += inc
        if (p >= TABLE_SIZE) p -= TABLE_SIZE
      }
      phases[j] = p
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
