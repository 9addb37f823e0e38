// Malformed request-targets and headers against the origin Worker in workerd, over raw sockets.
// As for the edge Worker (edge/test/request-target-fuzz.test.ts): workerd's own HTTP server
// refuses some before the Worker runs (no URL from `*` or Host `[`: a plain-text 500), which is
// the runtime, and Cloudflare's front line refuses such requests before a Worker. What must hold:
// the Worker's own answers are never a 5xx (its /metrics count none), workerd logs nothing but
// those refusals, and the Worker keeps serving /healthz and its chunks. The same request builders
// as the Node origin's fuzz test (test-support/raw-http.ts).

import type { Test } from 'tap'
import t from 'tap'
import {
  type RawAnswer,
  MALFORMED_TARGETS,
  describe,
  malformedHeaderRequests,
  mutatedPaths,
  noServerError,
  plainGet,
  randomTargets,
  rawExchange,
  refused,
  sendTargets,
  underPrefix,
} from '../../test-support/raw-http.js'
import { chunkPath } from '../../protocol/index.js'
import { ingestInto, startWorkerOriginWith, until } from './helpers/index.js'
import { OPERATOR_TOKEN } from './helpers/start-origins.js'

let runtimeLog = ''
const origin = await startWorkerOriginWith(t, { onRuntimeLog: (text) => (runtimeLog += text) })
const { version } = await ingestInto(origin, 'song', 1)
await until(async () => (await fetch(`${origin.url}/v1/tracks/song/manifest`)).status === 200, 'the track')
const port = Number(new URL(origin.url).port)
const chunk = chunkPath({ trackId: 'song', version, bitrate: 96, index: 0 })

/** What workerd logs when it refuses a request before the Worker runs (the edge's fuzz test found the same lines with a Worker that only echoes request.url). */
const RUNTIME_REFUSAL = /Uncaught exception: (kj\/compat\/url\.c\+\+|kj\/compat\/http\.c\+\+:\d+: failed: invalid Content-Length|.*remote\.jsg\.TypeError: Invalid URL string)/

/** A 5xx that workerd's HTTP server wrote itself (plain text), not one of the Worker's JSON answers. */
function fromRuntime(answer: RawAnswer): boolean {
  return answer.status !== null && answer.status >= 500 && !answer.body.trimStart().startsWith('{')
}
const workerRefused = (answer: RawAnswer) => refused(answer) || fromRuntime(answer)
const workerNoServerError = (answer: RawAnswer) => noServerError(answer) || fromRuntime(answer)

async function assertAlive(t: Test, after: string): Promise<void> {
  const health = await rawExchange(port, plainGet('/healthz'))
  t.equal(health.status, 200, `/healthz answers 200 after ${after}`)
  const served = await rawExchange(port, plainGet(chunk))
  t.equal(served.status, 200, `and a chunk is still served after ${after}`)
  const metrics = await (await fetch(`${origin.url}/metrics`, { headers: { authorization: `Bearer ${OPERATOR_TOKEN}` } })).text()
  t.notMatch(metrics, /requests_total\{[^}]*status="5\d\d"/, 'the Worker answered no 5xx')
  const uncaught = runtimeLog.split('\n').filter((line) => /uncaught/i.test(line) && !RUNTIME_REFUSAL.test(line))
  t.same(uncaught, [], 'workerd logged no uncaught exception but its own refusals of unparsable requests')
}

t.test('malformed request-targets, also under /v1/chunks/: 4xx or a closed socket', async (t) => {
  await sendTargets(t, port, MALFORMED_TARGETS, workerRefused)
  const answers = await sendTargets(t, port, underPrefix('/v1/chunks/', MALFORMED_TARGETS), workerRefused)
  const answered = answers.filter((a) => a.answer.body.startsWith('{'))
  t.ok(
    answered.every((a) => /"code":"(invalid_path|invalid_id|not_found|chunk_not_found|track_not_found|version_not_found)"/.test(a.answer.body)),
    "the Worker's own answers are JSON errors",
  )
  await assertAlive(t, 'malformed targets')
})

t.test('malformed headers', async (t) => {
  for (const path of ['/healthz', chunk]) {
    for (const { name, bytes } of malformedHeaderRequests(path)) {
      const answer = await rawExchange(port, bytes)
      t.ok(workerNoServerError(answer), `${name} on ${path}: ${describe(answer)}`)
    }
  }
  await assertAlive(t, 'malformed headers')
})

t.test('seeded random targets and mutations of a real chunk path: never a 5xx', async (t) => {
  const random = randomTargets(11, 100)
  const answers: RawAnswer[] = [
    ...(await sendTargets(t, port, random, workerNoServerError)),
    ...(await sendTargets(t, port, underPrefix('/v1/chunks/', random), workerNoServerError)),
    ...(await sendTargets(t, port, mutatedPaths(chunk, 5, 150), workerNoServerError)),
  ].map((r) => r.answer)
  t.equal(answers.length, 700, 'each target as a plain GET and as an upgrade')
  t.ok(answers.filter((a) => a.status !== null && a.status >= 400 && a.status < 500).length > 300, 'most are refused by the Worker itself with a 4xx')
  await assertAlive(t, 'random targets')
})
