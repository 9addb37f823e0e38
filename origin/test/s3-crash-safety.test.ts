import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { ingestFile } from '../src/ingest.js'
import { loadOriginKeys } from '../src/keys.js'
import { type R2BucketLike, createR2Publisher, createR2Store, sweepR2 } from '../src/r2-store.js'
import { createS3Store } from '../src/s3-store.js'
import { createDirectoryKeyStore } from '../src/track-key-dir.js'
import { makeWav, tempDataDir } from '../../test-support/fixtures.js'
import { assertCatalogSound, cutEachWrite, ingestThenKill, startIngest } from './helpers/crash.js'
import { S3_ENV, startS3Server } from './helpers/s3-server.js'

// `chorus ingest --to s3://` keeps R2's rule over the S3 API (the same publisher: only the bucket
// differs): a version's objects, its manifest, its key, and only then the index that makes it
// current. Against a real S3-compatible server (s3rver); what it cannot show (it ignores
// If-Match, so two ingests racing on the index) is left to r2-crash-safety.test.ts.

const BUCKET = 'crash-masters'

t.test('kill -9 at any moment of an ingest over S3 leaves no half track', async (t) => {
  const dir = await tempDataDir(t, 'chorus-s3-crash')
  const dataDir = join(dir, 'data')
  const keyDir = join(dataDir, 'track-keys')
  const keys = await loadOriginKeys(dataDir)
  const s3 = await startS3Server(t, [BUCKET])
  const bucket = s3.bucket(BUCKET)
  const store = createS3Store(bucket, { refreshMs: 0, memoryBytes: 0 })
  const trackKeys = createDirectoryKeyStore(keyDir)
  const wav = join(dir, 'song.wav')
  await writeFile(wav, makeWav(8))
  const args = ['--data', dataDir, '--to', s3.url(BUCKET), '--bitrates', '96,160', '--id', 'song', '--chunk-size', '4096', wav]

  const started = performance.now()
  const full = await ingestThenKill(args, 120_000, S3_ENV)
  t.equal(full.code, 0, 'an uninterrupted ingest succeeds')
  const duration = performance.now() - started
  const versions = new Set<string>()
  const check = async (what: string) => {
    const entries = await assertCatalogSound(t, store, trackKeys, keys)
    t.equal(entries.length, 1, `${what}: the track is listed once`)
    for (const e of entries) versions.add(e.version)
  }
  await check('after a whole ingest')

  // Kills while encoding, at moments of a whole run...
  for (const f of [0.3, 0.6]) {
    const run = await ingestThenKill(args, Math.round(duration * f), S3_ENV)
    await check(`after a kill at ${Math.round(f * 100)}% of a run`)
    t.comment(`kill at ${Math.round(f * 100)}%: ${run.killed ? 'killed' : 'finished first'}`)
  }
  // ...and in the publish, right as the server has stored its k-th object (2 masters, put at
  // once, the manifest, the index): wherever the signal lands between the requests in flight.
  for (let k = 1; k <= 4; k++) {
    const run = startIngest(args, S3_ENV)
    let stored = 0
    const stop = s3.onObjectStored(() => {
      if (++stored === k) run.kill()
    })
    const { killed } = await run.done
    stop()
    await check(`after a kill once ${k} object(s) were stored`)
    t.comment(`kill after object ${k}: ${killed ? 'killed' : 'finished first'}`)
  }

  for (const v of versions) t.ok(await store.manifest('song', v), `version ${v} is still readable`)
  // What killed ingests left (versions without a manifest) goes; every complete version stays.
  t.comment(`swept ${await sweepR2(bucket, { olderThanMs: 0 })} object(s) of versions without a manifest`)
  const byVersion = new Map<string, string[]>()
  for (const o of (await bucket.list({ prefix: 'tracks/song/' })).objects) {
    const version = o.key.split('/')[2]!
    byVersion.set(version, [...(byVersion.get(version) ?? []), o.key])
  }
  for (const [version, objectKeys] of byVersion)
    t.ok(
      objectKeys.some((k) => k.endsWith('/manifest.json')),
      `${version} is a complete version`,
    )
  for (const v of versions) t.ok(await store.manifest('song', v), `version ${v} survives the sweep`)
})

t.test('a publish over S3 cut after any one of its writes leaves the old track or the new one', async (t) => {
  const dir = await tempDataDir(t, 'chorus-s3-cut')
  const dataDir = join(dir, 'data')
  const keys = await loadOriginKeys(dataDir)
  const wav = join(dir, 'song.wav')
  await writeFile(wav, makeWav(2))
  const bucket = (await startS3Server(t, [BUCKET])).bucket(BUCKET)
  const trackKeys = createDirectoryKeyStore(join(dataDir, 'track-keys'))
  const ingest = (b: R2BucketLike) => ingestFile(wav, { trackId: 'song' }, { dataDir, keys, bitrates: [96, 160], chunkSize: 4096, workers: 1, publisher: createR2Publisher(b, { trackKeys }) })
  const first = await ingest(bucket)
  const store = createR2Store(bucket, { refreshMs: 0 })

  // The real bucket, with a crash injected after each write of the publish in turn.
  const n = await cutEachWrite(t, { bucket, ingest, oldVersion: first.version, sound: () => assertCatalogSound(t, store, trackKeys, keys) })
  t.equal(n, 5, 'each of the 4 writes of a publish (2 masters, the manifest, the index) was cut once')
})
