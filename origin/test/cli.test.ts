import { spawn } from 'node:child_process'
import { readdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { CHORUS, makeWav, runChorus, tempDataDir } from '../../test-support/fixtures.js'

// Each test runs its own commands in a directory of its own: side by side.
t.jobs = 3

t.test('--help on every subcommand', async (t) => {
  // Each run loads the command line (a second or so): run them side by side.
  const [ingestHelp, originHelp, top, unknown] = await Promise.all([runChorus(['ingest', '--help']), runChorus(['origin', '--help']), runChorus(['--help']), runChorus(['ingest', '--nope'])])
  for (const [cmd, run] of [
    ['ingest', ingestHelp],
    ['origin', originHelp],
  ] as const) {
    t.equal(run.code, 0, `${cmd} --help exits 0`)
    t.match(run.stdout, /Usage: chorus/)
  }
  t.match(top.stdout, /ingest.*\n.*origin/s)
  t.equal(unknown.code, 2)
  t.match(unknown.stderr, /--nope/)
})

t.test('ingest: a corrupt file is an error naming it; the catalog is untouched; --json summary', async (t) => {
  const dataDir = await tempDataDir(t)
  await writeFile(join(dataDir, 'good.wav'), makeWav(2))
  const truncated = makeWav(2).subarray(0, 30)
  await writeFile(join(dataDir, 'broken.wav'), truncated)
  await writeFile(join(dataDir, 'noise.mp3'), Buffer.alloc(5000, 7))
  const run = await runChorus(['ingest', '--json', '--data', dataDir, '--bitrates', '96', join(dataDir, 'good.wav'), join(dataDir, 'broken.wav'), join(dataDir, 'noise.mp3')])
  t.equal(run.code, 1, 'exit 1 when a file failed')
  const summary = JSON.parse(run.stdout.trim().split('\n').at(-1)!)
  t.equal(summary.ok, false)
  t.same(
    summary.tracks.map((r: any) => r.trackId),
    ['good'],
  )
  t.equal(summary.errors.length, 2)
  for (const e of summary.errors) t.match(e.message, e.file, 'the message names the file')
  t.same((await readdir(join(dataDir, 'tracks'))).sort(), ['good'], 'nothing of the bad files reached the catalog')

  const missing = await runChorus(['ingest', '--data', dataDir, join(dataDir, 'absent.wav')])
  t.equal(missing.code, 2)
  t.match(missing.stderr, /absent\.wav/)
})

t.test('origin: --json ready line, serves, stops cleanly on SIGTERM', async (t) => {
  const dataDir = await tempDataDir(t)
  await writeFile(join(dataDir, 'a.wav'), makeWav(2))
  t.equal((await runChorus(['ingest', '--data', dataDir, '--bitrates', '96', join(dataDir, 'a.wav')])).code, 0)
  const child = spawn(process.execPath, [CHORUS, 'origin', '--json', '--quiet', '--port', '0', '--data', dataDir], { stdio: ['ignore', 'pipe', 'inherit'] })
  const line = await new Promise<string>((resolve) => {
    let out = ''
    child.stdout.on('data', (d) => {
      out += d
      if (out.includes('\n')) resolve(out.split('\n')[0]!)
    })
  })
  const ready = JSON.parse(line)
  t.equal(ready.ready, true)
  t.match(ready.url, /^http:\/\/127\.0\.0\.1:\d+$/)
  t.match(ready.publicKey, /^[A-Za-z0-9_-]{43}$/)
  const tracks = (await (await fetch(`${ready.url}/v1/tracks`)).json()) as any
  t.equal(tracks.tracks[0].trackId, 'a')
  const code = await new Promise((resolve) => {
    child.on('close', (c) => resolve(c))
    child.kill('SIGTERM')
  })
  t.equal(code, 0, 'exit 0 after SIGTERM')

  const pk = await runChorus(['origin', '--print-public-key', '--data', dataDir])
  t.equal(pk.stdout.trim(), ready.publicKey, 'the public key stays the same across runs')
})
