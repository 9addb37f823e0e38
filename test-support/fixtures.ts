import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Test } from 'tap'
import { runChorus as runShared } from './chorus.js'

export const ROOT = new URL('../', import.meta.url).pathname
export const CHORUS = join(ROOT, 'bin/chorus.js')

/** A fresh data directory, removed when the test ends. */
/** `close` made safe to call twice, and called at the test's teardown unless the test called it first. */
export function closeOnce(t: Test, close: () => Promise<unknown>): () => Promise<void> {
  let closed = false
  const once = async () => {
    if (closed) return
    closed = true
    await close()
  }
  t.teardown(once)
  return once
}

export async function tempDataDir(t: Test, name = 'chorus'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `${name}-`))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  return dir
}

/** A 16-bit stereo WAV of a few chords: real audio content for the encoder, built here so the test owns its input. */
export function makeWav(seconds: number, sampleRate = 44100): Uint8Array {
  const frames = Math.round(seconds * sampleRate)
  const data = Buffer.alloc(frames * 4)
  const chords = [
    [261.63, 329.63, 392.0],
    [220.0, 261.63, 329.63],
    [174.61, 220.0, 261.63],
    [196.0, 246.94, 293.66],
  ]
  for (let i = 0; i < frames; i++) {
    const t = i / sampleRate
    const chord = chords[Math.floor(t / 0.5) % chords.length]!
    const env = Math.min(1, (t % 0.5) * 40) * Math.exp(-(t % 0.5) * 3)
    let s = 0
    for (const f of chord) s += Math.sin(2 * Math.PI * f * t)
    const v = Math.round((s / chord.length) * env * 12000)
    data.writeInt16LE(v, i * 4)
    data.writeInt16LE(Math.round(v * 0.8), i * 4 + 2)
  }
  const header = Buffer.alloc(44)
  header.write('RIFF', 0)
  header.writeUInt32LE(36 + data.length, 4)
  header.write('WAVE', 8)
  header.write('fmt ', 12)
  header.writeUInt32LE(16, 16)
  header.writeUInt16LE(1, 20)
  header.writeUInt16LE(2, 22)
  header.writeUInt32LE(sampleRate, 24)
  header.writeUInt32LE(sampleRate * 4, 28)
  header.writeUInt16LE(4, 32)
  header.writeUInt16LE(16, 34)
  header.write('data', 36)
  header.writeUInt32LE(data.length, 40)
  return new Uint8Array(Buffer.concat([header, data]))
}

export interface Run {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

/** Runs the real `chorus` command line in a child process (the shared helper in test-support/chorus.ts). */
export function runChorus(args: string[], options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<Run> {
  return runShared(args, options)
}
