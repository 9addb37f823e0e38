import type { StereoBus } from './synth-bus.js'

/**
 * The demo synthesizer's effects and master section, run as one pass over the song: on this
 * kind of machine every extra pass over song-length buffers costs more than the arithmetic in it.
 * The small processors below keep their state in short delay lines and are inlined by V8.
 */

/** A feedback comb with a one-pole low-pass in the loop (Freeverb's damped comb). */
class Comb {
  readonly #line: Float32Array
  #pos = 0
  #low = 0
  constructor(length: number, readonly decay: number, readonly damping: number) {
    this.#line = new Float32Array(length)
  }
  tick(x: number): number {
    const out = this.#line[this.#pos]!
    this.#low = out * (1 - this.damping) + this.#low * this.damping
    this.#line[this.#pos] = x + this.#low * this.decay
    if (++this.#pos === this.#line.length) this.#pos = 0
    return out
  }
}

/** Schroeder all-pass: flat magnitude, smeared phase; diffuses the combs' echoes. */
class Allpass {
  readonly #line: Float32Array
  #pos = 0
  constructor(length: number, readonly gain = 0.5) {
    this.#line = new Float32Array(length)
  }
  tick(x: number): number {
    const delayed = this.#line[this.#pos]!
    const y = delayed - this.gain * x
    this.#line[this.#pos] = x + this.gain * y
    if (++this.#pos === this.#line.length) this.#pos = 0
    return y
  }
}

/** Echoes that bounce between the channels; `left`/`right` hold the latest echo outputs. */
class PingPong {
  readonly #toLeft: Float32Array
  readonly #toRight: Float32Array
  #pos = 0
  left = 0
  right = 0
  constructor(length: number, readonly feedback: number) {
    this.#toLeft = new Float32Array(length)
    this.#toRight = new Float32Array(length)
  }
  tick(x: number): void {
    const l = this.#toLeft[this.#pos]!
    const r = this.#toRight[this.#pos]!
    this.#toLeft[this.#pos] = r * this.feedback
    this.#toRight[this.#pos] = (x + l) * this.feedback
    if (++this.#pos === this.#toLeft.length) this.#pos = 0
    this.left = l
    this.right = r
  }
}

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

/** Adds echoes and reverb into the bus, applies the fades, and returns the peak level. */
export function mixdown(bus: StereoBus, o: MixdownOptions): number {
  const { left, right, sampleRate: sr } = bus
  const { send, lead } = o
  const samples = (ms: number): number => Math.max(1, Math.round((ms / 1000) * sr))
  const [c0, c1, c2, c3] = COMB_MS.map((ms) => new Comb(samples(ms), ROOM_DECAY, ROOM_DAMPING)) as [Comb, Comb, Comb, Comb]
  // Slightly different all-pass lengths per side make the tail wide.
  const l1 = new Allpass(samples(5.0))
  const l2 = new Allpass(samples(1.7))
  const r1 = new Allpass(samples(5.3))
  const r2 = new Allpass(samples(1.9))
  const echo = new PingPong(samples(o.echoSeconds * 1000), o.echoFeedback)
  const wet = o.reverbWet
  const leadReverb = o.leadReverb

  const n = left.length
  const fadeIn = Math.min(n, Math.round(o.fadeInSeconds * sr))
  const fadeOutStart = n - Math.min(n - fadeIn, Math.round(o.fadeOutSeconds * sr))
  const fadeOutLength = n - fadeOutStart
  let peak = 0
  for (let i = 0; i < n; i++) {
    const x = lead[i]!
    echo.tick(x)
    const leadLeft = x + echo.left
    const leadRight = x + echo.right
    const roomIn = send[i]! + (leadLeft + leadRight) * leadReverb
    const room = (c0.tick(roomIn) + c1.tick(roomIn) + c2.tick(roomIn) + c3.tick(roomIn)) * 0.25
    let l = left[i]! + leadLeft + l2.tick(l1.tick(room)) * wet
    let r = right[i]! + leadRight + r2.tick(r1.tick(room)) * wet
    if (i < fadeIn || i >= fadeOutStart) {
      const g = i < fadeIn ? i / fadeIn : ((n - i) / fadeOutLength) ** 2
      l *= g
      r *= g
    }
    left[i] = l
    right[i] = r
    const m = Math.max(Math.abs(l), Math.abs(r))
    if (m > peak) peak = m
  }
  return peak
}
