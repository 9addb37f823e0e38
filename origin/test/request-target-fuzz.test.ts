// Malformed request-targets and headers against `chorus origin` as a process, over raw sockets:
// every bad request gets a 4xx (or a closed socket), never a 5xx, and the origin still serves
// /healthz and its chunks afterwards. Covers both of its paths: Hono, and the chunk fast path
// of server.ts that skips it. The request builders are shared with the tracker's and the edge's
// fuzz tests (test-support/raw-http.ts).

import { spawn } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Test } from 'tap'
import t from 'tap'
import type { RawAnswer } from '../../test-support/raw-http.js'
import {
  MALFORMED_TARGETS,
  describe,
  malformedHeaderRequests,
  mutatedPaths,
  noServerError,
  plainGet,
  randomTargets,
  rawExchange,
  refused,
  resetAfterSending,
  sendTargets,
  underPrefix,
} from '../../test-support/raw-http.js'
import { CHORUS, makeWav, runChorus, tempDataDir } from '../../test-support/fixtures.js'

const dataDir = await tempDataDir(t, 'chorus-origin-fuzz')
await writeFile(join(dataDir, 'song.wav'), makeWav(1))
const ingest = await runChorus(['ingest', '--data', dataDir, '--bitrates', '96', join(dataDir, 'song.wav')])
if (ingest.code !== 0) throw new Error(`ingest failed: ${ingest.stderr}`)

const child = spawn(process.execPath, [CHORUS, 'origin', '--json', '--quiet', '--port', '0', '--data', dataDir], { stdio: ['ignore', 'pipe', 'pipe'] })
let stderr = ''
let exited: string | null = null
child.stderr.on('data', (d: Buffer) => (stderr += d))
child.on('exit', (code, signal) => (exited = `exit ${signal ?? code}`))
t.teardown(() => {
  if (exited === null) child.kill('SIGKILL')
})
const ready = await new Promise<string>((resolve, reject) => {
  let out = ''
  child.stdout.on('data', (d: Buffer) => {
    out += d
    if (out.includes('\n')) resolve(out.split('\n')[0] as string)
  })
  child.once('exit', () => reject(new Error(`origin did not start: ${stderr}`)))
})
const { url } = JSON.parse(ready) as { url: string }
const port = Number(new URL(url).port)
const manifest = (await (await fetch(`${url}/v1/tracks/song/manifest`)).json()) as { manifest: { version: string } }
const chunk = `/v1/chunks/song/${manifest.manifest.version}/96/0`

async function assertAlive(t: Test, after: string): Promise<void> {
  t.equal(exited, null, `the origin process is still running after ${after}`)
  t.notMatch(stderr, /uncaught|Error/i, `nothing on stderr after ${after}`)
  const health = await rawExchange(port, plainGet('/healthz'))
  t.equal(health.status, 200, `/healthz answers 200 after ${after}`)
  const served = await rawExchange(port, plainGet(chunk))
  t.equal(served.status, 200, `and a chunk is still served after ${after}`)
}

t.test('malformed request-targets: 4xx or a closed socket', async (t) => {
  await sendTargets(t, port, MALFORMED_TARGETS, refused)
  await assertAlive(t, 'malformed targets')
})

t.test('malformed request-targets under /v1/chunks/ (the fast path): 4xx or a closed socket', async (t) => {
  const answers = await sendTargets(t, port, underPrefix('/v1/chunks/', MALFORMED_TARGETS), refused)
  const answered = answers.filter((a) => a.answer.body.startsWith('{'))
  t.ok(
    answered.every((a) => /"code":"(invalid_path|invalid_id|not_found|chunk_not_found|track_not_found|version_not_found)"/.test(a.answer.body)),
    "the origin's own answers are JSON errors",
  )
  await assertAlive(t, 'malformed chunk targets')
})

t.test('malformed headers', async (t) => {
  for (const path of ['/healthz', chunk, '//']) {
    for (const { name, bytes } of malformedHeaderRequests(path)) {
      const answer = await rawExchange(port, bytes)
      t.ok(path === '//' ? refused(answer) : noServerError(answer), `${name} on ${path}: ${describe(answer)}`)
    }
  }
  await assertAlive(t, 'malformed headers')
})

t.test('200 seeded random targets, and 200 under /v1/chunks/', async (t) => {
  const random = randomTargets(11, 200)
  const answers: RawAnswer[] = [...(await sendTargets(t, port, random, noServerError)), ...(await sendTargets(t, port, underPrefix('/v1/chunks/', random), noServerError))].map((r) => r.answer)
  t.ok(answers.filter((a) => refused(a)).length > 750, 'nearly all are refused')
  await assertAlive(t, 'random targets')
})

t.test('200 mutations of a real chunk path', async (t) => {
  await sendTargets(t, port, mutatedPaths(chunk, 5, 200), noServerError)
  await assertAlive(t, 'mutated chunk paths')
})

t.test('connections reset right after a request', async (t) => {
  await resetAfterSending(port, plainGet(chunk), 100)
  await resetAfterSending(port, plainGet('//'), 100)
  await assertAlive(t, 'resets')
})
