import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { runChorus } from '../../test-support/fixtures.js'
import { decodeErrors, readWav } from './audio.js'
import { API_KEY, startStack } from './stack.js'

t.test('chorus play writes the decrypted audio and prints its stats as JSON; failures exit non-zero', async (t) => {
  const stack = await startStack(t, [{ trackId: 'song', seconds: 6 }])
  const dir = await mkdtemp(join(tmpdir(), 'chorus-play-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const common = ['--edge', stack.edge.url, '--keys', stack.origin.url, '--tracker', stack.trackerUrl, '--api-key', API_KEY, `--public-key=${stack.publicKey}`, '--cache', join(dir, 'cache')]
  const file = join(dir, 'song.m4a')
  const run = await runChorus(['play', 'song', ...common, '--quality', '96', '--speed', '0', '--json', '--out', file])
  t.equal(run.code, 0, run.stderr)
  const stats = JSON.parse(run.stdout.trim().split('\n').at(-1)!)
  t.equal(stats.trackId, 'song')
  t.equal(stats.bitrate, 96)
  t.ok((await readFile(file)).equals(await stack.reference('song', 96)), 'the file holds the track, byte for byte: the init segment and every fragment')
  t.equal(stats.bytes.edge + stats.bytes.peer + stats.bytes.cache, (await stack.master('song', 96)).length, 'every chunk byte is accounted to a source')
  t.type(stats.timeToFirstAudioMs, 'number')
  t.same(await decodeErrors(file), { code: 0, stderr: '' }, 'ffmpeg -v error -i song.m4a -f null - prints nothing')

  // One track to a WAV: decoded, priming and padding trimmed: exactly the source's length.
  const wav = await runChorus(['play', 'song', ...common, '--quality', '96', '--speed', '0', '--out', join(dir, 'song.wav')])
  t.equal(wav.code, 0, wav.stderr)
  const pcm = readWav(await readFile(join(dir, 'song.wav')))
  t.equal(pcm.sampleRate, 44100)
  t.equal(pcm.channels[0]!.length, 6 * 44100, 'the WAV is as long as the source, to the sample')

  const missing = await runChorus(['play', 'nope', ...common, '--speed', '0', '--out', join(dir, 'x.m4a')])
  t.equal(missing.code, 1)
  t.match(missing.stderr, /not_found/)
  const usage = await runChorus(['play'])
  t.equal(usage.code, 2)
  // Keys never come through the edge: with an edge of one's own, the key service must be named.
  const noKeys = await runChorus(['play', 'song', '--edge', stack.edge.url, '--speed', '0', '--out', join(dir, 'y.m4a')])
  t.equal(noKeys.code, 2, 'a usage error')
  t.match(noKeys.stderr, /--keys URL .* is required with --edge/)
})
