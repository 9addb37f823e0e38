import type { StereoBus } from './synth-bus.js'

/**
 * The demo synthesizer's effects and master section, run as one pass over the song: on this
 * kind of machine every extra pass over song-length buffers costs more than the arithmetic in it.
 *
 * The reverb is Freeverb's shape: four feedback combs with a one-pole low-pass in the loop
 * (damped combs) in parallel, then two Schroeder all-passes a side (flat magnitude, smeared
 * phase; slightly different lengths per side make the tail wide). The lead's echoes bounce
 * between the channels (ping-pong). Every delay line is a power-of-two ring indexed by the
 * sample number under a mask, and every filter's state is a local variable: one loop, no
 * per-sample object reads and writes, no wrap tests.
 */

export interface MixdownOptions {
  /** Mono reverb send, as long as the song. */
  send: Float32Array
  /** The dry lead (mono), mixed in centred with its ping-pong echoes. */
  lead: Float32Array
  echoSeconds: number
  echoFeedback: number
  /** Share of the lead and its echoes sent to the reverb. */
  leadReverb: number
  reverbWet: number
  fadeInSeconds: number
  fadeOutSeconds: number
}

const COMB_MS = [29.7, 37.1, 41.1, 43.7]
const ROOM_DECAY = 0.8
const ROOM_DAMPING = 0.3
const ALLPASS_GAIN = 0.5

/** A ring of at least `length` samples, a power of two, so `index & (size - 1)` wraps it. */
function ring(length: number): Float32Array {
  return new Float32Array(2 ** Math.ceil(Math.log2(Math.max(2, length))))
}

/** Adds echoes and reverb into the bus, applies the fades, and returns the peak level. */
export function mixdown(bus: StereoBus, o: MixdownOptions): number {
  const { left, right, sampleRate: sr } = bus
  const { send, lead } = o
  const samples = (ms: number): number => Math.max(1, Math.round((ms / 1000) * sr))
  // Delays in samples: a line of delay D reads what was written D samples ago, (i - D) & mask.
  const [c0, c1, c2, c3] = COMB_MS.map(samples) as [number, number, number, number]
  const l1 = samples(5.0)
  const l2 = samples(1.7)
  const r1 = samples(5.3)
  const r2 = samples(1.9)
  const comb0 = ring(Math.max(c0, c1, c2, c3, l1, l2, r1, r2))
  const M = comb0.length - 1
  const comb1 = new Float32Array(M + 1)
  const comb2 = new Float32Array(M + 1)
  const comb3 = new Float32Array(M + 1)
  const apL1 = new Float32Array(M + 1)
  const apL2 = new Float32Array(M + 1)
  const apR1 = new Float32Array(M + 1)
  const apR2 = new Float32Array(M + 1)
  const echo = samples(o.echoSeconds * 1000)
  const toLeft = ring(echo)
  const toRight = new Float32Array(toLeft.length)
  const EM = toLeft.length - 1
  const feedback = o.echoFeedback
  const wet = o.reverbWet
  const leadReverb = o.leadReverb
  const damping = ROOM_DAMPING
  const undamped = 1 - ROOM_DAMPING
  const decay = ROOM_DECAY
  const g = ALLPASS_GAIN

  const n = left.length
  const fadeIn = Math.min(n, Math.round(o.fadeInSeconds * sr))
  const fadeOutStart = n - Math.min(n - fadeIn, Math.round(o.fadeOutSeconds * sr))
  const fadeOutLength = n - fadeOutStart
  let low0 = 0
  let low1 = 0
  let low2 = 0
  let low3 = 0
  let peak = 0
  for (let i = 0; i < n; i++) {
    const w = i & M
    // The lead and its echoes, each echo crossing to the other side.
    const x = lead[i]!
    const er = (i - echo) & EM
    const echoLeft = toLeft[er]!
    const echoRight = toRight[er]!
    toLeft[i & EM] = echoRight * feedback
    toRight[i & EM] = (x + echoLeft) * feedback
    const leadLeft = x + echoLeft
    const leadRight = x + echoRight
    const roomIn = send[i]! + (leadLeft + leadRight) * leadReverb
    // The damped combs.
    const o0 = comb0[(i - c0) & M]!
    low0 = o0 * undamped + low0 * damping
    comb0[w] = roomIn + low0 * decay
    const o1 = comb1[(i - c1) & M]!
    low1 = o1 * undamped + low1 * damping
    comb1[w] = roomIn + low1 * decay
    const o2 = comb2[(i - c2) & M]!
    low2 = o2 * undamped + low2 * damping
    comb2[w] = roomIn + low2 * decay
    const o3 = comb3[(i - c3) & M]!
    low3 = o3 * undamped + low3 * damping
    comb3[w] = roomIn + low3 * decay
    const room = (o0 + o1 + o2 + o3) * 0.25
    // The all-passes, two a side.
    let y = apL1[(i - l1) & M]! - g * room
    apL1[w] = room + g * y
    const wetLeft = apL2[(i - l2) & M]! - g * y
    apL2[w] = y + g * wetLeft
    y = apR1[(i - r1) & M]! - g * room
    apR1[w] = room + g * y
    const wetRight = apR2[(i - r2) & M]! - g * y
    apR2[w] = y + g * wetRight
    let l = left[i]! + leadLeft + wetLeft * wet
    let r = right[i]! + leadRight + wetRight * wet
    if (i < fadeIn || i >= fadeOutStart) {
      const f = i < fadeIn ? i / fadeIn : ((n - i) / fadeOutLength) ** 2
      l *= f
      r *= f
    }
    left[i] = l
    right[i] = r
    const m = Math.max(Math.abs(l), Math.abs(r))
    if (m > peak) peak = m
  }
  return peak
}
