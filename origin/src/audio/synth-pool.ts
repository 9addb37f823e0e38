import { Worker } from 'node:worker_threads'
import { synthesizeTrack } from './demo-music.js'
import type { Pcm } from './pcm.js'

interface SynthJob {
  seed: number
  durationSec: number
  sampleRate?: number
}

export interface Synthesizer {
  /** The track's PCM, rendered on the synthesizer's thread; jobs run one at a time, in order. */
  render(job: SynthJob, signal?: AbortSignal): Promise<Pcm>
  /** Ends the thread; renders still pending reject. */
  close(): Promise<void>
  /** Whether renders run on a worker thread (false: the worker could not start, they run inline). */
  readonly threaded: boolean
}

const WORKER_URL = new URL('./synth-worker.js', import.meta.url)

type Reply = { ready: true } | { id: number; pcm: Pcm } | { id: number; error: string }

/**
 * A synthesizer on a worker thread of its own: a demo track takes most of a CPU-second to render,
 * and on the main thread that second would stall whatever feeds the encoders. If the thread
 * cannot start (no tsx to load the TypeScript synthesizer there), renders run inline.
 */
export async function createSynthesizer(): Promise<Synthesizer> {
  const pending = new Map<number, { resolve: (pcm: Pcm) => void; reject: (err: Error) => void }>()
  let nextId = 0
  let closed = false
  let started: (() => void) | undefined
  let failed: ((err: Error) => void) | undefined
  const failAll = (err: Error) => {
    failed?.(err)
    for (const p of pending.values()) p.reject(err)
    pending.clear()
  }
  let worker: Worker | undefined
  try {
    worker = new Worker(WORKER_URL, { execArgv: [] })
    // One listener for the thread's life: it says it is ready, then answers jobs by id.
    worker.on('message', (reply: Reply) => {
      if (!('id' in reply)) return started?.()
      const p = pending.get(reply.id)
      if (!p) return
      pending.delete(reply.id)
      if ('error' in reply) p.reject(new Error(`synthesis failed: ${reply.error}`))
      else p.resolve(reply.pcm)
    })
    worker.on('error', (err) => failAll(err))
    worker.on('exit', (code) => failAll(new Error(closed ? 'the synthesizer was closed' : `synth worker exited (code ${code})`)))
    await new Promise<void>((resolve, reject) => {
      started = resolve
      failed = reject
    })
    started = failed = undefined
  } catch {
    void worker?.terminate()
    return inlineSynthesizer()
  }
  const thread = worker
  return {
    threaded: true,
    render(job, signal) {
      if (closed) return Promise.reject(new Error('the synthesizer was closed'))
      if (signal?.aborted) return Promise.reject(signal.reason)
      const id = nextId++
      return new Promise<Pcm>((resolve, reject) => {
        // An abort does not stop a render under way (it is about a second): its result is dropped.
        const onAbort = () => {
          pending.delete(id)
          reject(signal!.reason)
        }
        signal?.addEventListener('abort', onAbort, { once: true })
        const done = () => signal?.removeEventListener('abort', onAbort)
        pending.set(id, {
          resolve: (pcm) => {
            done()
            resolve(pcm)
          },
          reject: (err) => {
            done()
            reject(err)
          },
        })
        thread.postMessage({ id, seed: job.seed, durationSec: job.durationSec, ...(job.sampleRate !== undefined && { sampleRate: job.sampleRate }) })
      })
    },
    async close() {
      closed = true
      await thread.terminate()
    },
  }
}

function inlineSynthesizer(): Synthesizer {
  return {
    threaded: false,
    async render(job, signal) {
      signal?.throwIfAborted()
      // Yield first, so that a caller's other work (an encode it just started) gets going.
      await new Promise((r) => setImmediate(r))
      signal?.throwIfAborted()
      return synthesizeTrack(job)
    },
    async close() {},
  }
}
