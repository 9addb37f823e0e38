/**
 * The instruments of the demo synthesizer. Each renders one note by adding into float buffers in
 * a single typed-array loop: no allocation per sample, tables instead of Math.sin where it counts.
 */

export interface StereoBus {
  left: Float32Array
  right: Float32Array
  sampleRate: number
}

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

export interface Envelope {
  attack: number // seconds, linear
  /** Time constant (s) of the fall from 1 to `sustain` after the attack. */
  decay: number
  sustain: number
  /** Time constant (s) of the fall to silence after the note ends. */
  release: number
}

export interface ToneOptions {
  table: Float32Array
  start: number // seconds
  duration: number // seconds, before the release
  frequency: number
  amplitude: number
  pan: number // -1 left .. 1 right
  envelope: Envelope
  /** A second oscillator this many cents sharp (the first goes as many flat), panned opposite. */
  unisonCents?: number
  vibrato?: { depth: number; rate: number; delay: number }
  /** Also adds the note, scaled, into this mono buffer (a reverb send). */
  send?: { buffer: Float32Array; amount: number }
}

/** Below this the release is cut off: -40 dB, under the rest of the mix and the reverb tail. */
const SILENT = 0.01

/**
 * Renders one pitched note into the bus: attack, decay and release as three runs of one tight
 * loop, where the envelope follows env = env * mul + add.
 */
export function renderTone(bus: StereoBus, o: ToneOptions): void {
  const sr = bus.sampleRate
  const total = bus.left.length
  const startSample = Math.round(o.start * sr)
  const from = Math.max(0, startSample)
  const noteOff = Math.max(from, Math.min(total, Math.round((o.start + o.duration) * sr)))
  if (from >= total) return
  const { attack, decay, sustain, release } = o.envelope
  const attackEnd = Math.min(noteOff, startSample + Math.max(1, Math.round(attack * sr)))
  const decayK = Math.exp(-1 / (Math.max(1e-4, decay) * sr))
  const releaseK = Math.exp(-1 / (Math.max(1e-4, release) * sr))

  const voice: Osc = {
    table: o.table,
    left: bus.left,
    right: bus.right,
    send: o.send?.buffer,
    sendAmount: (o.send?.amount ?? 0) * o.amplitude,
    phase: (o.start * 7919) % TABLE_SIZE, // differing start phases keep doubled voices from cancelling
    phase2: (o.start * 3571) % TABLE_SIZE,
    inc: 0,
    inc2: 0,
    gl: 0,
    gr: 0,
    gl2: 0,
    gr2: 0,
    env: Math.max(0, (from - startSample) / Math.max(1, attack * sr)),
    vibrato: o.vibrato ? { ...o.vibrato, phase: 0, start: from + Math.round(o.vibrato.delay * sr), sampleRate: sr } : undefined,
  }
  const base = (o.frequency * TABLE_SIZE) / sr
  const unison = o.unisonCents ?? 0
  voice.inc = base * 2 ** (-unison / 1200)
  voice.inc2 = unison === 0 ? 0 : base * 2 ** (unison / 1200)
  const [gl, gr] = panGains(o.pan)
  const share = unison === 0 ? 1 : Math.SQRT1_2
  voice.gl = gl * o.amplitude * share
  voice.gr = gr * o.amplitude * share
  voice.gl2 = gr * o.amplitude * share
  voice.gr2 = gl * o.amplitude * share

  const attackStep = 1 / Math.max(1, attack * sr)
  run(voice, from, attackEnd, 1, attackStep)
  run(voice, attackEnd, noteOff, decayK, sustain * (1 - decayK))
  const tail = voice.env > SILENT ? Math.ceil(Math.log(SILENT / voice.env) / Math.log(releaseK)) : 0
  run(voice, noteOff, Math.min(total, noteOff + tail), releaseK, 0)
}

interface Osc {
  table: Float32Array
  left: Float32Array
  right: Float32Array
  send: Float32Array | undefined
  sendAmount: number
  phase: number
  phase2: number
  inc: number
  inc2: number
  gl: number
  gr: number
  gl2: number
  gr2: number
  env: number
  vibrato: { depth: number; rate: number; phase: number; start: number; sampleRate: number } | undefined
}

function run(o: Osc, from: number, to: number, mul: number, add: number): void {
  if (to <= from) return
  if (o.vibrato) return runVibrato(o, from, to, mul, add)
  const { table, left, right, send, sendAmount, inc, inc2, gl, gr, gl2, gr2 } = o
  let { phase, phase2, env } = o
  if (inc2 === 0) {
    for (let i = from; i < to; i++) {
      env = env * mul + add
      const k = phase | 0
      const a = table[k]!
      const v = (a + (phase - k) * (table[k + 1]! - a)) * env
      left[i] = left[i]! + v * gl
      right[i] = right[i]! + v * gr
      if (send !== undefined) send[i] = send[i]! + v * sendAmount
      phase += inc
      if (phase >= TABLE_SIZE) phase -= TABLE_SIZE
    }
  } else {
    for (let i = from; i < to; i++) {
      env = env * mul + add
      const k = phase | 0
      const a = table[k]!
      const v = (a + (phase - k) * (table[k + 1]! - a)) * env
      const k2 = phase2 | 0
      const b = table[k2]!
      const v2 = (b + (phase2 - k2) * (table[k2 + 1]! - b)) * env
      left[i] = left[i]! + v * gl + v2 * gl2
      right[i] = right[i]! + v * gr + v2 * gr2
      if (send !== undefined) send[i] = send[i]! + (v + v2) * sendAmount
      phase += inc
      if (phase >= TABLE_SIZE) phase -= TABLE_SIZE
      phase2 += inc2
      if (phase2 >= TABLE_SIZE) phase2 -= TABLE_SIZE
    }
  }
  o.phase = phase
  o.phase2 = phase2
  o.env = env
}

/** The lead's loop: pitch wobbles after a delay, fading in over 0.3 s. No unison here. */
function runVibrato(o: Osc, from: number, to: number, mul: number, add: number): void {
  const vib = o.vibrato!
  const { table, left, right, send, sendAmount, inc, gl, gr } = o
  const depth = 2 ** (vib.depth / 1200) - 1
  const vibInc = (vib.rate * TABLE_SIZE) / vib.sampleRate
  const ramp = 1 / (0.3 * vib.sampleRate)
  const vibStart = vib.start
  let { phase, env } = o
  let vibPhase = vib.phase
  for (let i = from; i < to; i++) {
    env = env * mul + add
    const k = phase | 0
    const a = table[k]!
    const v = (a + (phase - k) * (table[k + 1]! - a)) * env
    left[i] = left[i]! + v * gl
    right[i] = right[i]! + v * gr
    if (send !== undefined) send[i] = send[i]! + v * sendAmount
    if (i >= vibStart) {
      const r = (i - vibStart) * ramp
      phase += inc * (1 + depth * (r < 1 ? r : 1) * SINE[vibPhase | 0]!)
      vibPhase += vibInc
      if (vibPhase >= TABLE_SIZE) vibPhase -= TABLE_SIZE
    } else {
      phase += inc
    }
    if (phase >= TABLE_SIZE) phase -= TABLE_SIZE
  }
  o.phase = phase
  o.env = env
  vib.phase = vibPhase
}

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
  const tail = state.env > SILENT ? Math.ceil(Math.log(SILENT / state.env) / Math.log(releaseK)) : 0
  runChord(bus, state, noteOff, Math.min(total, noteOff + tail), releaseK, 0)
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
  let state = seed | 1
  let tone = amplitude * 0.6
  let noise = amplitude * 0.7
  let phase = 0
  let prev = 0
  for (let i = Math.max(0, from); i < to; i++) {
    state ^= state << 13
    state ^= state >>> 17
    state ^= state << 5
    const white = (state | 0) / 2147483648
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
  let state = seed | 1
  let env = amplitude
  let p1 = 0
  let p2 = 0
  for (let i = Math.max(0, from); i < to; i++) {
    state ^= state << 13
    state ^= state >>> 17
    state ^= state << 5
    const white = (state | 0) / 2147483648
    const high = white - 2 * p1 + p2
    p2 = p1
    p1 = white
    const v = high * env * 0.25
    bus.left[i] = bus.left[i]! + v * gl
    bus.right[i] = bus.right[i]! + v * gr
    env *= k
  }
}

/** Constant-power pan. */
export function panGains(pan: number): [number, number] {
  const angle = ((Math.max(-1, Math.min(1, pan)) + 1) * Math.PI) / 4
  return [Math.cos(angle), Math.sin(angle)]
}
