import { availableParallelism } from 'node:os'
import { Worker } from 'node:worker_threads'
import { AudioError, isMp3SampleRate, pcmFrames, floatToInt16, type Pcm } from './pcm.js'
import { MPEG1_BITRATES, MPEG2_BITRATES, bitratesFor, mpegVersionForRate } from './mp3-header.js'
import { prependInfoFrame } from './info-frame.js'
import { scanMp3 } from './mp3-frames.js'
import { resample } from './resample.js'

export interface EncodeOptions {
  /** Samples encoded so far across all jobs, out of input length times the number of bitrates. */
  onProgress?: (done: number, total: number) => void
  signal?: AbortSignal
  /** Most worker threads at once; defaults to the cores available. */
  workers?: number
}

const WORKER_URL = new URL('./encode-worker.js', import.meta.url)
const ALL_BITRATES = new Set<number>([...MPEG1_BITRATES, ...MPEG2_BITRATES].filter((b) => b > 0))

interface Job {
  kbps: number
  pcm: Pcm
  /** Shared copies of the channels, so several workers read one buffer. */
  shared: Int16Array[]
}

/**
 * Encodes one PCM input at several CBR bitrates, one lamejs job per bitrate on worker threads.
 * Each result starts with a LAME Info frame that records the encoder delay and padding.
 */
export async function encodeMp3(pcm: Pcm, bitratesKbps: number[], opts: EncodeOptions = {}): Promise<Map<number, Uint8Array>> {
  validatePcm(pcm)
  const bitrates = [...new Set(bitratesKbps)]
  for (const kbps of bitrates) {
    if (!ALL_BITRATES.has(kbps)) throw new RangeError(`encodeMp3: ${kbps} kbit/s is not an MP3 bitrate (one of ${[...ALL_BITRATES].sort((a, b) => a - b).join(', ')})`)
  }
  const workerCount = Math.max(1, Math.min(bitrates.length, opts.workers ?? availableParallelism()))
  if (!Number.isInteger(workerCount)) throw new RangeError(`encodeMp3: workers must be a positive integer (got ${opts.workers})`)
  opts.signal?.throwIfAborted()
  const results = new Map<number, Uint8Array>()
  if (bitrates.length === 0) return results

  const jobs = planJobs(pcm, bitrates)
  const frames = pcmFrames(pcm)
  const total = frames * jobs.length
  const done = new Float64Array(jobs.length)
  const raw = await runJobs(jobs, workerCount, opts, (index, samples) => {
    const job = jobs[index]!
    done[index] = Math.round((samples / pcmFrames(job.pcm)) * frames)
    opts.onProgress?.(
      done.reduce((a, b) => a + b, 0),
      total,
    )
  })

  jobs.forEach((job, index) => {
    const mp3 = prependInfoFrame(raw[index]!, { samples: pcmFrames(job.pcm), sampleRate: job.pcm.sampleRate })
    const scan = scanMp3(mp3)
    if (scan.bitrateKbps !== job.kbps) {
      throw new AudioError('encoder_failed', `lamejs wrote ${scan.bitrateKbps} kbit/s frames when ${job.kbps} kbit/s was asked for`)
    }
    results.set(job.kbps, mp3)
  })
  return new Map(bitrates.map((kbps) => [kbps, results.get(kbps)!]))
}

function validatePcm(pcm: Pcm): void {
  const count = pcm.channels.length
  if (count !== 1 && count !== 2) throw new RangeError(`encodeMp3: PCM must have 1 or 2 channels (got ${count})`)
  if (count === 2 && pcm.channels[0]!.length !== pcm.channels[1]!.length) throw new RangeError('encodeMp3: PCM channels differ in length')
  if (pcmFrames(pcm) === 0) throw new RangeError('encodeMp3: PCM holds no samples')
  if (!(pcm.sampleRate >= 1000 && pcm.sampleRate <= 768000)) throw new RangeError(`encodeMp3: sample rate ${pcm.sampleRate} Hz is out of range`)
}

/**
 * Picks the input of each job. MPEG-2 rates (24 kHz and below) stop at 160 kbit/s, so a higher
 * bitrate asked of such input is encoded from a 44.1 kHz copy rather than silently capped.
 */
function planJobs(pcm: Pcm, bitrates: number[]): Job[] {
  const copies = new Map<number, Job['shared']>()
  const inputs = new Map<number, Pcm>()
  const at = (rate: number): Pcm => {
    let input = inputs.get(rate)
    if (!input) {
      input = rate === pcm.sampleRate ? pcm : resamplePcm(pcm, rate)
      inputs.set(rate, input)
    }
    return input
  }
  const baseRate = isMp3SampleRate(pcm.sampleRate) ? pcm.sampleRate : 44100
  return bitrates.map((kbps) => {
    const version = mpegVersionForRate(baseRate)
    const fits = version === '1' || (version !== undefined && bitratesFor(version).includes(kbps))
    const input = at(fits ? baseRate : 44100)
    let shared = copies.get(input.sampleRate)
    if (!shared) {
      shared = input.channels.map((channel) => {
        const copy = new Int16Array(new SharedArrayBuffer(channel.byteLength))
        copy.set(channel)
        return copy
      })
      copies.set(input.sampleRate, shared)
    }
    return { kbps, pcm: input, shared }
  })
}

function resamplePcm(pcm: Pcm, rate: number): Pcm {
  return {
    sampleRate: rate,
    channels: pcm.channels.map((channel) => {
      const floats = new Float32Array(channel.length)
      for (let i = 0; i < channel.length; i++) floats[i] = channel[i]! / 32768
      return floatToInt16(resample(floats, pcm.sampleRate, rate))
    }),
  }
}

type Reply = { type: 'progress'; id: number; done: number } | { type: 'done'; id: number; bytes: Uint8Array } | { type: 'error'; id: number; message: string }

/** A small pool: each worker takes the next job when it finishes one; all stop on the first failure or abort. */
function runJobs(jobs: Job[], workerCount: number, opts: EncodeOptions, progress: (index: number, samples: number) => void): Promise<Uint8Array[]> {
  return new Promise((resolve, reject) => {
    const results: Uint8Array[] = new Array(jobs.length)
    const workers: Worker[] = []
    let next = 0
    let finished = 0
    let settled = false

    const stop = (err?: unknown): void => {
      if (settled) return
      settled = true
      opts.signal?.removeEventListener('abort', onAbort)
      // Settle once every worker is gone: a caller that aborts and moves on (or a test that looks)
      // must find no encoder thread still running.
      void Promise.allSettled(workers.map((worker) => worker.terminate())).then(() => (err === undefined ? resolve(results) : reject(err)))
    }
    const onAbort = (): void => stop(opts.signal?.reason ?? new DOMException('The encode was aborted', 'AbortError'))
    opts.signal?.addEventListener('abort', onAbort, { once: true })

    const feed = (worker: Worker): void => {
      if (next >= jobs.length) return
      const id = next++
      const job = jobs[id]!
      worker.postMessage({ id, kbps: job.kbps, sampleRate: job.pcm.sampleRate, left: job.shared[0], right: job.shared[1] })
    }

    for (let i = 0; i < workerCount; i++) {
      // No inherited loader flags (tsx, tap's TypeScript hooks): the worker is plain JavaScript and
      // starts several times faster without them.
      const worker = new Worker(WORKER_URL, { execArgv: [] })
      workers.push(worker)
      worker.on('message', (reply: Reply) => {
        if (settled) return
        if (reply.type === 'progress') progress(reply.id, reply.done)
        else if (reply.type === 'error') stop(new AudioError('encoder_failed', `MP3 encode at ${jobs[reply.id]?.kbps} kbit/s failed: ${reply.message}`))
        else {
          results[reply.id] = reply.bytes
          finished++
          if (finished === jobs.length) stop()
          else feed(worker)
        }
      })
      worker.on('error', (err) => stop(new AudioError('encoder_failed', `MP3 encoder worker failed: ${err.message}`, { cause: err })))
      worker.on('exit', (code) => {
        if (!settled) stop(new AudioError('encoder_failed', `MP3 encoder worker exited early (code ${code})`))
      })
      feed(worker)
    }
  })
}
