// Encodes one PCM job to MP3 with lamejs, off the main thread. Plain JavaScript on purpose: the
// tests load TypeScript through tap's loader and the CLI through tsx, and only a .js worker
// loads the same way under both.
import { parentPort } from 'node:worker_threads'
import { Mp3Encoder } from '@breezystack/lamejs'

/** Samples handed to lamejs per call: a whole number of frames, about 0.8 s at 44.1 kHz. */
const BLOCK = 1152 * 32

/**
 * @typedef {{ id: number, kbps: number, sampleRate: number, left: Int16Array, right?: Int16Array }} Job
 * @typedef {{ type: 'progress', id: number, done: number }
 *   | { type: 'done', id: number, bytes: Uint8Array }
 *   | { type: 'error', id: number, message: string }} Reply
 */

if (!parentPort) throw new Error('encode-worker.js must run in a worker thread')
const port = parentPort

port.on('message', (/** @type {Job} */ job) => {
  try {
    const bytes = encode(job)
    port.postMessage(/** @type {Reply} */ ({ type: 'done', id: job.id, bytes }), [bytes.buffer])
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err)
    port.postMessage(/** @type {Reply} */ ({ type: 'error', id: job.id, message }))
  }
})

/** @param {Job} job */
function encode(job) {
  const { left, right } = job
  const encoder = new Mp3Encoder(right ? 2 : 1, job.sampleRate, job.kbps)
  /** @type {Int8Array[]} */
  const parts = []
  let size = 0
  const n = left.length
  for (let i = 0; i < n; i += BLOCK) {
    const end = Math.min(n, i + BLOCK)
    const out = right ? encoder.encodeBuffer(left.subarray(i, end), right.subarray(i, end)) : encoder.encodeBuffer(left.subarray(i, end))
    parts.push(out)
    size += out.length
    port.postMessage(/** @type {Reply} */ ({ type: 'progress', id: job.id, done: end }))
  }
  const tail = encoder.flush()
  parts.push(tail)
  size += tail.length
  // lamejs hands back Int8Array copies; one Uint8Array is what the rest of Chorus reads.
  const bytes = new Uint8Array(size)
  let p = 0
  for (const part of parts) {
    bytes.set(new Uint8Array(part.buffer, part.byteOffset, part.length), p)
    p += part.length
  }
  return bytes
}
