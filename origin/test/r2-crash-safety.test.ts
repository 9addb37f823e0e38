import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { ingestFile } from '../src/ingest.js'
import { type OriginKeys, loadOriginKeys } from '../src/keys.js'
import { openLocalR2 } from '../src/local-r2.js'
import { type R2BucketLike, createR2Publisher, createR2Store, sweepR2 } from '../src/r2-store.js'
import type { StagedVersion } from '../src/storage.js'
import { createDirectoryKeyStore } from '../src/track-key-dir.js'
import { makeWav, tempDataDir } from '../../test-support/fixtures.js'
import { assertCatalogSound as assertStoreSound, cutEachWrite, ingestThenKill } from './helpers/crash.js'

const BUCKET = 'crash-masters'

/** Everything the catalog lists must verify completely, and have its key (outside the bucket). */
function assertCatalogSound(t: Test, bucket: R2BucketLike, keyDir: string, keys: Pick<OriginKeys, 'verifier'>) {
  return assertStoreSound(t, createR2Store(bucket, { refreshMs: 0 }), createDirectoryKeyStore(keyDir), keys)
}

t.test('kill -9 at any moment of an ingest into local R2 leaves no half track', async (t) => {
  const dir = await tempDataDir(t, 'chorus-r2-crash')
  const dataDir = join(dir, 'data')
  const persist = join(dir, 'state')
  const keyDir = join(dataDir, 'track-keys')
  const keys = await loadOriginKeys(dataDir)
  const wav = join(dir, 'song.wav')
  await writeFile(wav, makeWav(8))
  const args = ['--data', dataDir, '--to', `r2://${BUCKET}`, '--persist', persist, '--bitrates', '96,160', '--id', 'song', '--chunk-size', '4096', wav]

  const started = performance.now()
  const full = await ingestThenKill(args, 120_000)
  t.equal(full.code, 0, 'an uninterrupted ingest succeeds')
  const duration = performance.now() - started
  const versions = new Set<string>()
  const check = async (what: string) => {
    const r2 = await openLocalR2({ persistDir: persist, bucketName: BUCKET })
    try {
      const entries = await assertCatalogSound(t, r2.bucket, keyDir, keys)
      t.equal(entries.length, 1, `${what}: the track is listed once`)
      for (const e of entries) versions.add(e.version)
    } finally {
      await r2.close()
    }
  }
  await check('after a whole ingest')

  // Publishing is the last part of the run, so kills cluster there.
  for (const f of [0.3, 0.6, 0.8, 0.9, 0.95, 0.98, 1.0]) {
    const run = await ingestThenKill(args, Math.round(duration * f))
    await check(`after a kill at ${Math.round(f * 100)}%`)
    t.comment(`kill at ${Math.round(f * 100)}%: ${run.killed ? 'killed' : 'finished first'}`)
  }

  const r2 = await openLocalR2({ persistDir: persist, bucketName: BUCKET })
  t.teardown(() => r2.close())
  const store = createR2Store(r2.bucket, { refreshMs: 0 })
  for (const v of versions) t.ok(await store.manifest('song', v), `version ${v} is still readable`)
  // What killed ingests left (versions without a manifest) goes; every complete version stays.
  await sweepR2(r2.bucket, { olderThanMs: 0 })
  const left = await r2.bucket.list({ prefix: 'tracks/song/', delimiter: '/' })
  for (const prefix of left.delimitedPrefixes) {
    const objects = await r2.bucket.list({ prefix })
    t.ok(
      objects.objects.some((o) => o.key.endsWith('manifest.json')),
      `${prefix} is a complete version`,
    )
  }
  for (const v of versions) t.ok(await store.manifest('song', v), `version ${v} survives the sweep`)
})

t.test('a publish cut after any one of its writes leaves the old track or the new one, never half', async (t) => {
  const dir = await tempDataDir(t, 'chorus-r2-cut')
  const dataDir = join(dir, 'data')
  const keyDir = join(dataDir, 'track-keys')
  const keys = await loadOriginKeys(dataDir)
  const wav = join(dir, 'song.wav')
  await writeFile(wav, makeWav(2))
  const r2 = await openLocalR2({ persistDir: join(dir, 'state'), bucketName: BUCKET })
  t.teardown(() => r2.close())
  const trackKeys = createDirectoryKeyStore(keyDir)
  const ingest = (bucket: R2BucketLike) =>
    ingestFile(wav, { trackId: 'song' }, { dataDir, keys, bitrates: [96, 160], chunkSize: 4096, workers: 1, publisher: createR2Publisher(bucket, { trackKeys }) })
  const first = await ingest(r2.bucket)

  // The real bucket, with a crash injected after each write of the publish in turn.
  const n = await cutEachWrite(t, { bucket: r2.bucket, ingest, oldVersion: first.version, sound: () => assertCatalogSound(t, r2.bucket, keyDir, keys) })
  // 2 masters, 1 manifest, 1 index: a cut anywhere before the index leaves the old track; the index write is the whole publish.
  t.equal(n, 5, 'each of the 4 writes of a publish (2 masters, the manifest, the index) was cut once')
})

t.test('concurrent publishes into one bucket never drop each other from the index', async (t) => {
  const dir = await tempDataDir(t, 'chorus-r2-race')
  const dataDir = join(dir, 'data')
  const keys = await loadOriginKeys(dataDir)
  const wav = join(dir, 'song.wav')
  await writeFile(wav, makeWav(1))
  const r2 = await openLocalR2({ persistDir: join(dir, 'state'), bucketName: BUCKET })
  t.teardown(() => r2.close())
  // One real staged version, captured on its way to a publisher...
  let staged: StagedVersion | undefined
  await ingestFile(
    wav,
    { trackId: 'song' },
    {
      dataDir,
      keys,
      bitrates: [96],
      workers: 1,
      publisher: {
        publish: async (s) => {
          staged = s
        },
      },
    },
  )
  // ...published under 12 track ids at once: each publish reads the index and puts it back.
  const trackKeys = createDirectoryKeyStore(join(dataDir, 'track-keys'))
  const ids = Array.from({ length: 12 }, (_, i) => `race-${i}`)
  await Promise.all(ids.map((trackId) => createR2Publisher(r2.bucket, { trackKeys }).publish({ ...staged!, manifest: { ...staged!.manifest, trackId } })))
  const catalog = await createR2Store(r2.bucket, { refreshMs: 0 }).catalog()
  t.same(
    catalog.map((e) => e.trackId),
    [...ids].sort(),
    'every track of every concurrent publish is listed',
  )
})
