import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { freePort } from '../../support/process.js'
import { join } from 'node:path'
import t from 'tap'
import { type SignedManifest, chunkMatches, chunkPath, decryptChunk, importManifestPublicKey, importTrackKey, verifySignedManifest } from '../../protocol/index.js'
import { loadOriginKeys } from '../src/keys.js'
import { ROOT, runChorus, makeWav, tempDataDir } from '../../test-support/fixtures.js'
import { signingKeyText, until } from './helpers/index.js'

const WRANGLER = join(ROOT, 'node_modules/wrangler/bin/wrangler.js')
const OPERATOR = 'wrangler-test-operator-token'

// The whole local path an operator takes: `chorus ingest --to r2://chorus-masters --persist S`,
// then `wrangler dev -c origin/worker/wrangler.toml --persist-to S` serves what was ingested;
// later ingests go into the same bucket while it serves, their keys to its key vault.
t.test('chorus ingest --to r2:// publishes into the bucket wrangler dev serves', async (t) => {
  const dir = await tempDataDir(t, 'chorus-origin-wrangler')
  const dataDir = join(dir, 'data')
  const persist = join(dir, 'state')
  const wav = join(dir, 'song.wav')
  await writeFile(wav, makeWav(3))
  const ingest = await runChorus(['ingest', '--data', dataDir, '--to', 'r2://chorus-masters', '--persist', persist, '--bitrates', '96', '--chunk-size', '4096', '--id', 'song', '--json', wav])
  t.equal(ingest.code, 0, ingest.stderr)
  const result = JSON.parse(ingest.stdout) as { to: string; tracks: Array<{ version: string }> }
  t.equal(result.to, 'r2://chorus-masters')
  const keys = await loadOriginKeys(dataDir)

  const envFile = join(dir, 'origin.env')
  await writeFile(
    envFile,
    `CHORUS_SIGNING_KEY=${JSON.stringify(await signingKeyText(dataDir))}\nCHORUS_API_KEYS="k"\nCHORUS_OPERATOR_TOKEN="${OPERATOR}"\nKEY_WRAPPING_KEY="${randomBytes(32).toString('base64url')}"\n`,
    { mode: 0o600 },
  )
  const port = await freePort()
  const inspector = await freePort()
  const child = spawn(
    process.execPath,
    [
      WRANGLER,
      'dev',
      '--config',
      join(ROOT, 'origin/worker/wrangler.toml'),
      '--ip',
      '127.0.0.1',
      '--port',
      String(port),
      '--inspector-port',
      String(inspector),
      '--env-file',
      envFile,
      '--persist-to',
      persist,
      '--log-level',
      'error',
      '--show-interactive-dev-session=false',
    ],
    { cwd: join(ROOT, 'origin/worker'), env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CI: '1' }, stdio: ['ignore', 'ignore', 'pipe'], detached: true },
  )
  let stderr = ''
  child.stderr!.on('data', (d) => (stderr = (stderr + d).slice(-4000)))
  // wrangler runs workerd as its children: end the whole group it leads.
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve()
        child.once('exit', () => resolve())
        try {
          process.kill(-child.pid!, 'SIGTERM')
        } catch {}
        setTimeout(() => {
          try {
            process.kill(-child.pid!, 'SIGKILL')
          } catch {}
        }, 5000).unref()
      }),
  )
  const url = `http://127.0.0.1:${port}`
  await until(
    async () => {
      if (child.exitCode !== null) throw new Error(`wrangler dev exited: ${stderr}`)
      const res = await fetch(`${url}/healthz`).catch(() => undefined)
      return res?.status === 200
    },
    'wrangler dev to serve',
    90_000,
  )
  t.same(await (await fetch(`${url}/healthz`)).json(), { ok: true, tracks: 1, keyId: keys.keyId })
  const { tracks } = (await (await fetch(`${url}/v1/tracks`)).json()) as { tracks: Array<{ trackId: string; version: string }> }
  t.same(
    tracks.map((e) => [e.trackId, e.version]),
    [['song', result.tracks[0]!.version]],
  )
  const signed = (await (await fetch(`${url}/v1/tracks/song/manifest`)).json()) as SignedManifest
  const manifest = await verifySignedManifest(signed, await importManifestPublicKey(keys.publicKey))
  const q = manifest.qualities[0]!
  for (let index = 0; index < q.chunkCount; index++) {
    const res = await fetch(`${url}${chunkPath({ trackId: 'song', version: manifest.version, bitrate: q.bitrate, index })}`)
    t.ok(res.status === 200 && (await chunkMatches(new Uint8Array(await res.arrayBuffer()), q.hashes[index]!)), `chunk ${index} verifies`)
  }
  // Without --key-service the key stayed on the operator's disk: not in the bucket, so the
  // Worker's key vault has none to give (origin-key-service.test.ts covers --key-service).
  const session = (await (await fetch(`${url}/v1/session`, { method: 'POST', headers: { 'x-api-key': 'k' } })).json()) as { token: string }
  const key = await fetch(`${url}/v1/tracks/song/key`, { headers: { authorization: `Bearer ${session.token}` } })
  t.equal(key.status, 404)
  t.equal(((await key.json()) as { error: { code: string } }).error.code, 'version_not_found')

  // An ingest while wrangler dev serves the same state directory, its keys handed to the
  // Worker's key vault: the new track shows, and its key opens its chunks.
  await writeFile(join(dir, 'b-side.wav'), makeWav(2))
  const more = await runChorus(
    [
      'ingest',
      '--data',
      dataDir,
      '--to',
      'r2://chorus-masters',
      '--persist',
      persist,
      '--key-service',
      url,
      '--bitrates',
      '96',
      '--chunk-size',
      '4096',
      '--id',
      'b-side',
      '--json',
      join(dir, 'b-side.wav'),
    ],
    {
      env: { CHORUS_OPERATOR_TOKEN: OPERATOR },
    },
  )
  t.equal(more.code, 0, more.stderr)
  await until(async () => ((await (await fetch(`${url}/v1/tracks`)).json()) as { tracks: unknown[] }).tracks.length === 2, 'the second track to show')
  const second = await verifySignedManifest((await (await fetch(`${url}/v1/tracks/b-side/manifest`)).json()) as SignedManifest, await importManifestPublicKey(keys.publicKey))
  const keyRes = await fetch(`${url}/v1/tracks/b-side/key`, { headers: { authorization: `Bearer ${session.token}` } })
  t.equal(keyRes.status, 200, 'the key came through the key vault')
  const { key: keyText } = (await keyRes.json()) as { key: string }
  const sq = second.qualities[0]!
  const first = new Uint8Array(await (await fetch(`${url}${chunkPath({ trackId: 'b-side', version: second.version, bitrate: 96, index: 0 })}`)).arrayBuffer())
  const plain = await decryptChunk(await importTrackKey(keyText), sq.nonce, 0, sq.chunkSize, first)
  if (sq.codec === 'aac') t.equal(Buffer.from(plain.subarray(4, 8)).toString('latin1'), 'moof', 'and the key opens its chunks')
  t.notOk(existsSync(join(dataDir, 'track-keys', 'b-side')), 'no key of it on the disk')
})
