import { spawn } from 'node:child_process'
import { readdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { chunkMatches, importManifestPublicKey, verifySignedManifest } from '../../protocol/index.js'
import { ingestFile } from '../src/ingest.js'
import { loadOriginKeys } from '../src/keys.js'
import { createStore, sweepStaging } from '../src/store.js'
import { CHORUS, makeWav, tempDataDir } from '../../test-support/fixtures.js'

/** Everything the catalog lists must verify completely: manifest signature and every chunk's hash. */
async function assertCatalogSound(t: Test, dataDir: string, publicKey: string) {
  const store = createStore({ dataDir, refreshMs: 0 })
  const verifier = await importManifestPublicKey(publicKey)
  const entries = await store.catalog()
  for (const entry of entries) {
    const stored = await store.manifest(entry.trackId, entry.version)
    const manifest = await verifySignedManifest(stored!.doc, verifier)
    for (const q of manifest.qualities) {
      for (let i = 0; i < q.chunkCount; i++) {
        const stored = await store.chunk(entry.trackId, entry.version, q.bitrate, i)
        if (!stored || !(await chunkMatches(stored.bytes, q.hashes[i]!))) t.fail(`${entry.trackId} ${q.bitrate}/${i} does not verify`)
      }
    }
    t.ok(await store.trackKey(entry.trackId, entry.version), `${entry.trackId} has its key`)
  }
  return entries
}

function ingestThenKill(args: string[], afterMs: number): Promise<{ killed: boolean; code: number | null }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CHORUS, 'ingest', ...args], { stdio: 'ignore' })
    const timer = setTimeout(() => child.kill('SIGKILL'), afterMs)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({ killed: signal === 'SIGKILL', code })
    })
  })
}

t.test('kill -9 at any moment of an ingest leaves no half track and a readable catalog', async (t) => {
  const dataDir = await tempDataDir(t)
  const keys = await loadOriginKeys(dataDir)
  const wav = join(dataDir, 'song.wav')
  await writeFile(wav, makeWav(8))
  const first = await ingestFile(wav, { trackId: 'song' }, { dataDir, keys, bitrates: [96, 160] })

  // One uninterrupted run tells how long an ingest takes here; kills are spread across it.
  const started = performance.now()
  const full = await ingestThenKill(['--data', dataDir, '--bitrates', '96,160', '--id', 'song', wav], 120_000)
  t.equal(full.code, 0)
  const duration = performance.now() - started
  const versions = new Set([first.version])
  for (const e of await assertCatalogSound(t, dataDir, keys.publicKey)) versions.add(e.version)

  // Publishing is the last few percent of the run, so kills cluster there as well.
  const fractions = [0.2, 0.5, 0.8, 0.9, 0.95, 0.98, 1.0, 1.02]
  for (const f of fractions) {
    const run = await ingestThenKill(['--data', dataDir, '--bitrates', '96,160', '--id', 'song', wav], Math.round(duration * f))
    const entries = await assertCatalogSound(t, dataDir, keys.publicKey)
    t.equal(entries.length, 1, `after a kill at ${Math.round(f * 100)}% the track is listed once`)
    t.equal(entries[0]!.trackId, 'song')
    versions.add(entries[0]!.version)
    t.comment(`kill at ${Math.round(f * 100)}%: ${run.killed ? 'killed' : 'finished first'}; current ${entries[0]!.version}`)
  }
  // Every version ever published is still served, so a listener in the middle of one keeps playing.
  const store = createStore({ dataDir })
  for (const v of versions) t.ok(await store.manifest('song', v), `version ${v} still readable`)
  await sweepStaging(dataDir)
  t.same(await readdir(join(dataDir, '.staging')), [], 'the leftovers of killed ingests are swept')
})
