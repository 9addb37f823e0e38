import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { fromBase64Url } from '../../protocol/index.js'
import { ingestFile } from '../src/ingest.js'
import { loadOriginKeys } from '../src/keys.js'
import { openLocalR2 } from '../src/local-r2.js'
import { createR2Publisher, createR2Store } from '../src/r2-store.js'
import { createS3Store } from '../src/s3-store.js'
import type { MasterPublisher, MasterReader } from '../src/storage.js'
import { createDirectoryPublisher, createStore } from '../src/store.js'
import { createDirectoryKeyStore } from '../src/track-key-dir.js'
import { makeWav, tempDataDir } from '../../test-support/fixtures.js'
import { startS3Server } from './helpers/s3-server.js'

// The storage contract (src/storage.ts) read back from every implementation after the same
// versions were published into each: the directory, R2 (Miniflare's local R2, from Node) and a
// bucket over the S3 API (s3rver), the last read once through its memory and once again from it.
t.test('the directory, R2 and S3 stores keep the same contract', async (t) => {
  const dir = await tempDataDir(t, 'chorus-storage-contract')
  const dataDir = join(dir, 'data')
  const keys = await loadOriginKeys(dataDir)
  const r2 = await openLocalR2({ persistDir: join(dir, 'state'), bucketName: 'contract' })
  t.teardown(() => r2.close())
  const s3 = (await startS3Server(t, ['contract'])).bucket('contract')
  const s3Store = createS3Store(s3, { refreshMs: 0 })
  const stores: Array<[string, MasterReader]> = [
    ['directory', createStore({ dataDir, refreshMs: 0 })],
    ['r2', createR2Store(r2.bucket, { refreshMs: 0 })],
    ['s3', s3Store],
    ['s3 from memory', s3Store],
    ['s3 without memory', createS3Store(s3, { refreshMs: 0, memoryBytes: 0 })],
  ]
  const publishers: MasterPublisher[] = [
    createDirectoryPublisher(dataDir),
    createR2Publisher(r2.bucket, { trackKeys: createDirectoryKeyStore(join(dir, 'r2-keys')) }),
    createR2Publisher(s3, { trackKeys: createDirectoryKeyStore(join(dir, 's3-keys')) }),
  ]
  const both: MasterPublisher = { publish: async (staged) => void (await Promise.all(publishers.map((p) => p.publish(staged)))) }
  const ingest = async (trackId: string, seconds: number) => {
    const wav = join(dir, `${trackId}.wav`)
    await writeFile(wav, makeWav(seconds))
    return ingestFile(wav, { trackId }, { dataDir, keys, publisher: both, bitrates: [96, 160], chunkSize: 4096, workers: 1 })
  }

  for (const [name, store] of stores) {
    t.same(await store.catalog(), [], `${name}: empty at first`)
    t.equal(await store.currentVersion('b-side'), undefined, `${name}: an unknown track has no version`)
  }
  const b1 = await ingest('b-side', 2)
  const a1 = await ingest('a-side', 1)
  const b2 = await ingest('b-side', 1)

  const [[, reference]] = stores as [[string, MasterReader]]
  for (const [name, store] of stores) {
    t.same(
      (await store.catalog()).map((e) => [e.trackId, e.version]),
      [
        ['a-side', a1.version],
        ['b-side', b2.version],
      ],
      `${name}: the catalog, sorted, at current versions`,
    )
    t.same(await store.catalog(), await reference.catalog(), `${name}: the same catalog lines`)
    t.equal(await store.currentVersion('b-side'), b2.version, `${name}: a re-ingest is current`)
    for (const [track, version] of [
      ['b-side', b1.version],
      ['b-side', b2.version],
      ['a-side', a1.version],
    ] as const) {
      const stored = await store.manifest(track, version)
      t.equal(stored?.body, (await reference.manifest(track, version))?.body, `${name}: ${track}/${version} manifest, byte for byte`)
      for (const q of stored!.doc.manifest.qualities) {
        for (let i = 0; i < q.chunkCount; i++) {
          const [got, want] = await Promise.all([store.chunk(track, version, q.bitrate, i), reference.chunk(track, version, q.bitrate, i)])
          if (!got || Buffer.compare(got.bytes, want!.bytes) !== 0 || got.etag !== `"${q.hashes[i]}"`) t.fail(`${name}: chunk ${track}/${version}/${q.bitrate}/${i}`)
        }
        t.equal(await store.chunk(track, version, q.bitrate, q.chunkCount), undefined, `${name}: no chunk past the last`)
        const init = await store.init(track, version, q.bitrate)
        if (q.codec === 'aac') {
          t.same(init, fromBase64Url(q.init), `${name}: the init segment of ${q.bitrate}`)
          t.equal(Buffer.from(init!.subarray(4, 8)).toString('latin1'), 'ftyp')
        } else t.equal(init, undefined)
      }
    }
    t.equal(await store.manifest('b-side', 'zzzz9999'), undefined, `${name}: an unknown version`)
    t.equal(await store.chunk('b-side', b2.version, 320, 0), undefined, `${name}: an unknown quality`)
    t.equal(await store.manifest('../x', b2.version), undefined, `${name}: a malformed id reads nothing`)
    t.equal(await store.manifest('b-side', '../../keys'), undefined, `${name}: a malformed version reads nothing`)
    t.equal(await store.currentVersion('Bad!'), undefined)
  }
  t.ok(s3Store.peekChunk?.(`b-side/${b2.version}/96/0`), 's3: a chunk read once is held in memory, for the hot path')
})
