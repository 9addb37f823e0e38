import { spawn } from 'node:child_process'
import { findFfmpeg } from '../../support/ffmpeg.js'

/** Audio helpers for the SDK's media tests: ffmpeg as a checker, WAV in and out, a sine's measures. */

async function ffmpegPath(): Promise<string> {
  const ffmpeg = await findFfmpeg()
  if (!ffmpeg) throw new Error('these tests need ffmpeg (the npm package @ffmpeg-installer/linux-x64 is an optional dependency)')
  return ffmpeg
}

/** `ffmpeg -v error -i <input> -f null -`: what it prints (nothing for a clean decode) and its exit code. */
export async function decodeErrors(input: string | Uint8Array, format?: string): Promise<{ code: number | null; stderr: string }> {
  const ffmpeg = await ffmpegPath()
  const args = ['-nostdin', '-v', 'error', ...(format ? ['-f', format] : []), '-i', typeof input === 'string' ? input : 'pipe:0', '-f', 'null', '-']
  return new Promise((resolve, reject) => {
    const child = spawn(ffmpeg, args, { stdio: [typeof input === 'string' ? 'ignore' : 'pipe', 'ignore', 'pipe'] })
    let stderr = ''
    child.stderr!.on('data', (d) => (stderr += d))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stderr }))
    if (typeof input !== 'string') {
      child.stdin!.on('error', () => undefined)
      child.stdin!.end(input)
    }
  })
}

/** A 16-bit PCM WAV of per-channel float samples. */
export function wavS16(channels: Float32Array[], sampleRate: number): Uint8Array {
  const frames = channels[0]!.length
  const n = channels.length
  const out = Buffer.alloc(44 + frames * n * 2)
  out.write('RIFF', 0)
  out.writeUInt32LE(out.length - 8, 4)
  out.write('WAVE', 8)
  out.write('fmt ', 12)
  out.writeUInt32LE(16, 16)
  out.writeUInt16LE(1, 20)
  out.writeUInt16LE(n, 22)
  out.writeUInt32LE(sampleRate, 24)
  out.writeUInt32LE(sampleRate * n * 2, 28)
  out.writeUInt16LE(n * 2, 32)
  out.writeUInt16LE(16, 34)
  out.write('data', 36)
  out.writeUInt32LE(frames * n * 2, 40)
  for (let i = 0, at = 44; i < frames; i++) for (let c = 0; c < n; c++, at += 2) out.writeInt16LE(Math.max(-32768, Math.min(32767, Math.round(channels[c]![i]! * 32767))), at)
  return new Uint8Array(out)
}

/** Reads a PCM (format 1, 16-bit) or float (format 3, 32-bit) WAV into per-channel floats. */
export function readWav(bytes: Uint8Array): { sampleRate: number; channels: Float32Array[] } {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  if (b.toString('ascii', 0, 4) !== 'RIFF' || b.toString('ascii', 8, 12) !== 'WAVE') throw new Error('not a WAV')
  let at = 12
  let format = 0
  let n = 0
  let sampleRate = 0
  let bits = 0
  while (at + 8 <= b.length) {
    const id = b.toString('ascii', at, at + 4)
    const size = b.readUInt32LE(at + 4)
    if (id === 'fmt ') {
      format = b.readUInt16LE(at + 8)
      n = b.readUInt16LE(at + 10)
      sampleRate = b.readUInt32LE(at + 12)
      bits = b.readUInt16LE(at + 22)
    } else if (id === 'data') {
      const width = bits / 8
      const frames = Math.floor(size / (width * n))
      const channels = Array.from({ length: n }, () => new Float32Array(frames))
      for (let i = 0, p = at + 8; i < frames; i++) {
        for (let c = 0; c < n; c++, p += width) channels[c]![i] = format === 3 ? b.readFloatLE(p) : b.readInt16LE(p) / 32768
      }
      return { sampleRate, channels }
    }
    at += 8 + size + (size & 1)
  }
  throw new Error('WAV without data')
}

/** A sine, per channel (the same in each). */
export function sine(frames: number, sampleRate: number, hz: number, amplitude: number, channels = 2): Float32Array[] {
  const one = new Float32Array(frames)
  for (let i = 0; i < frames; i++) one[i] = amplitude * Math.sin((2 * Math.PI * hz * i) / sampleRate)
  return Array.from({ length: channels }, () => one.slice())
}

/** The largest |x[i] - x[i-1]| in [from, to). */
export function maxStep(x: Float32Array, from: number, to: number): number {
  let m = 0
  for (let i = Math.max(1, from); i < Math.min(to, x.length); i++) m = Math.max(m, Math.abs(x[i]! - x[i - 1]!))
  return m
}

/**
 * The sine's envelope around each sample: the peak |x| over a sliding window of one period (or
 * more). A gap shows as a dip, a crossfade's rise as a bump. Returns the min and max of the
 * envelope over [from, to).
 */
export function envelope(x: Float32Array, from: number, to: number, window: number): { min: number; max: number } {
  let min = Number.POSITIVE_INFINITY
  let max = 0
  for (let start = Math.max(0, from); start + window <= Math.min(to, x.length); start += Math.max(1, window >> 3)) {
    let peak = 0
    for (let i = start; i < start + window; i++) peak = Math.max(peak, Math.abs(x[i]!))
    min = Math.min(min, peak)
    max = Math.max(max, peak)
  }
  return { min, max }
}

/** The longest run of samples with |x| below `threshold` in [from, to). */
export function longestQuietRun(x: Float32Array, from: number, to: number, threshold: number): number {
  let longest = 0
  let run = 0
  for (let i = Math.max(0, from); i < Math.min(to, x.length); i++) {
    run = Math.abs(x[i]!) < threshold ? run + 1 : 0
    longest = Math.max(longest, run)
  }
  return longest
}

/**
 * The RMS of what a least-squares fit of `a sin(wt) + b cos(wt) + c` at `hz` leaves in
 * [from, to): near zero for a clean sine (only codec noise), large across a gap or a jump in phase.
 */
export function sineResidual(x: Float32Array, from: number, to: number, hz: number, sampleRate: number): number {
  const w = (2 * Math.PI * hz) / sampleRate
  // Normal equations for [sin, cos, 1].
  const m = [0, 0, 0, 0, 0, 0, 0, 0, 0]
  const v = [0, 0, 0]
  for (let i = from; i < to; i++) {
    const f = [Math.sin(w * i), Math.cos(w * i), 1]
    for (let r = 0; r < 3; r++) {
      v[r]! += f[r]! * x[i]!
      for (let c = 0; c < 3; c++) m[r * 3 + c]! += f[r]! * f[c]!
    }
  }
  const [a, b, c] = solve3(m, v)
  let sum = 0
  for (let i = from; i < to; i++) {
    const e = x[i]! - (a * Math.sin(w * i) + b * Math.cos(w * i) + c)
    sum += e * e
  }
  return Math.sqrt(sum / (to - from))
}

function solve3(m: number[], v: number[]): [number, number, number] {
  const det = (a: number[]) => a[0]! * (a[4]! * a[8]! - a[5]! * a[7]!) - a[1]! * (a[3]! * a[8]! - a[5]! * a[6]!) + a[2]! * (a[3]! * a[7]! - a[4]! * a[6]!)
  const d = det(m)
  const col = (k: number) => det(m.map((x, i) => (i % 3 === k ? v[Math.floor(i / 3)]! : x)))
  return [col(0) / d, col(1) / d, col(2) / d]
}
