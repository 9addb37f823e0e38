import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { chunkPath } from '../../protocol/index.js'
import { ingestFile } from '../src/ingest.js'
import { loadOriginKeys } from '../src/keys.js'
import { createR2Publisher } from '../src/r2-store.js'
import { createS3Bucket } from '../src/s3-bucket.js'
import { createS3Store, parseS3Target } from '../src/s3-store.js'
import { startOrigin } from '../src/server.js'
import { createDirectoryKeyStore } from '../src/track-key-dir.js'
import { makeWav, tempDataDir } from '../../test-support/fixtures.js'
import { S3_ENV, startS3Server } from './helpers/s3-server.js'

// The Node origin over S3 when the store goes away: what is in memory is still served, what is
// not is a 503 storage_unavailable in JSON (logged with S3's error for the operator), and the origin
// keeps running.
t.test('an S3 outage is a 503 for what is not in memory, never a crash', async (t) => {
  const s3 = await startS3Server(t, ['masters'])
  const dataDir = await tempDataDir(t, 'chorus-s3-outage')
  const keys = await loadOriginKeys(dataDir)
  const target = parseS3Target(s3.url('masters'), S3_ENV)
  if (typeof target === 'string') throw new Error(target)
  const bucket = createS3Bucket(target, { attempts: 1 })
  const trackKeys = createDirectoryKeyStore(join(dataDir, 'track-keys'))
  const wav = join(dataDir, 'a.wav')
  await writeFile(wav, makeWav(2))
  const { version } = await ingestFile(wav, { trackId: 'song' }, { dataDir, keys, bitrates: [96], chunkSize: 4096, workers: 1, publisher: createR2Publisher(bucket, { trackKeys }) })
  const logs: Array<Record<string, unknown>> = []
  const origin = await startOrigin({ dataDir, env: {}, masters: { store: createS3Store(bucket), trackKeys }, log: (line) => logs.push(line) })
  t.teardown(() => origin.close())
  const chunk = (index: number) => `${origin.url}${chunkPath({ trackId: 'song', version, bitrate: 96, index })}`

  t.equal((await fetch(chunk(0))).status, 200, 'a chunk, read from the bucket once')
  await s3.close()
  t.equal((await fetch(chunk(0))).status, 200, 'with the store gone, a chunk in memory is still served')
  const cold = await fetch(chunk(1))
  t.equal(cold.status, 503, 'one that is not: a 503, to try again')
  const body = (await cold.json()) as { error: { code: string; message: string } }
  t.equal(body.error.code, 'storage_unavailable', 'in JSON')
  t.notMatch(body.error.message, /127\.0\.0\.1|S3Error|tracks\//, 'saying nothing of where the store is')
  t.equal((await fetch(`${origin.url}/v1/tracks/song/manifest`)).status, 503, 'a manifest not in memory: the same')
  t.match(
    logs.find((l) => l.level === 'error'),
    { error: /S3Error: GET tracks\/song\/.*did not answer/ },
    'the log says what failed, for the operator',
  )
  t.equal((await fetch(`${origin.url}/v1/origin-key`)).status, 200, 'and the origin keeps answering')
})
