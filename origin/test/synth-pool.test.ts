import { createHash } from 'node:crypto'
import t from 'tap'
import { synthesizeTrack } from '../src/audio/demo-music.js'
import { createSynthesizer } from '../src/audio/synth-pool.js'

const digest = (channels: Int16Array[]) => {
  const hash = createHash('sha256')
  for (const c of channels) hash.update(new Uint8Array(c.buffer, c.byteOffset, c.byteLength))
  return hash.digest('hex')
}

t.test('the synthesizer thread renders what the synthesizer renders inline, in order', async (t) => {
  const synth = await createSynthesizer()
  t.teardown(() => synth.close())
  t.equal(synth.threaded, true, 'a worker thread (it loads the TypeScript synthesizer through tsx)')
  const [a, b] = await Promise.all([synth.render({ seed: 7, durationSec: 2 }), synth.render({ seed: 8, durationSec: 1, sampleRate: 22050 })])
  t.equal(digest(a.channels), digest(synthesizeTrack({ seed: 7, durationSec: 2 }).channels), 'same samples')
  t.equal(b.sampleRate, 22050)
  t.equal(b.channels[0]!.length, 22050)
  await t.rejects(synth.render({ seed: 1, durationSec: 0 }), /synthesis failed: .*durationSec must be positive/, 'an error comes back as a rejection')
  t.equal((await synth.render({ seed: 9, durationSec: 1 })).channels.length, 2, 'and the thread goes on')
})

t.test('abort and close', async (t) => {
  const synth = await createSynthesizer()
  const stop = new AbortController()
  const pending = synth.render({ seed: 3, durationSec: 20 }, stop.signal)
  stop.abort(new Error('stop'))
  await t.rejects(pending, /stop/, 'an aborted render rejects at once')
  await t.rejects(synth.render({ seed: 3, durationSec: 1 }, stop.signal), /stop/, 'so does one asked with an aborted signal')
  const late = synth.render({ seed: 4, durationSec: 20 })
  await synth.close()
  await t.rejects(late, /closed/, 'close rejects what is pending')
  await t.rejects(synth.render({ seed: 4, durationSec: 1 }), /closed/)
})
