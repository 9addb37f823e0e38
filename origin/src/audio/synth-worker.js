// Synthesizes demo tracks off the main thread, so that the thread feeding the encoders (ffmpeg's
// stdin, lamejs's workers) never stalls for the second a track takes. Plain JavaScript on purpose,
// like encode-worker.js: it starts without the parent's loader flags (tsx, tap's hooks) and
// registers tsx itself to load the TypeScript synthesizer. Driven by synth-pool.ts.
import { parentPort } from 'node:worker_threads'
import { register } from 'tsx/esm/api'

if (!parentPort) throw new Error('synth-worker.js must run in a worker thread')
const port = parentPort
register()
const { synthesizeTrack } = await import('./demo-music.ts')

port.on('message', (/** @type {{ id: number, seed: number, durationSec: number, sampleRate?: number }} */ job) => {
  try {
    const pcm = synthesizeTrack(job)
    port.postMessage(
      { id: job.id, pcm },
      pcm.channels.map((c) => c.buffer),
    )
  } catch (err) {
    port.postMessage({ id: job.id, error: err instanceof Error ? err.message : String(err) })
  }
})
port.postMessage({ ready: true })
