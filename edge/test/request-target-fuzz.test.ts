// Malformed request-targets and headers against the edge Worker in workerd (Miniflare), over raw
// sockets. workerd's own HTTP server answers some of them before the Worker runs (it cannot
// build a URL from `*` or from Host `[`, and answers 500 "Internal Server Error" in plain text);
// that is the runtime, not the Worker, and Cloudflare's front line refuses such requests before
// they reach a Worker. What must hold: the Worker never answers a 5xx (its own answers are JSON,
// and its error counters show no 5xx), never logs an unexpected error, and keeps answering
// /healthz. The request builders are shared with the tracker's and the origin's fuzz tests.

import type { Readable } from 'node:stream'
import { dirname } from 'node:path'
import { Miniflare } from 'miniflare'
import type { Test } from 'tap'
import t from 'tap'
import type { RawAnswer } from '../../test-support/raw-http.js'
import { MALFORMED_TARGETS, describe, malformedHeaderRequests, noServerError, plainGet, randomTargets, rawExchange, refused, resetAfterSending, sendTargets } from '../../test-support/raw-http.js'
import { COMPATIBILITY_DATE, type EdgeStatsJson, bundleWorker, chunkPaths, makeCatalog, signedManifest, startTestOrigin } from '../../test-support/edge.js'

const { dataDir } = await makeCatalog(t, [{ trackId: 'song', seconds: 1 }])
const origin = await startTestOrigin(t, dataDir)
const chunk = chunkPaths((await signedManifest(origin.url, 'song')).manifest)[0] as string

// Started here rather than with the harness's startEdge, to read what workerd logs.
let runtimeLog = ''
const script = await bundleWorker()
const mf = new Miniflare({
  modules: true,
  scriptPath: script,
  modulesRoot: dirname(script),
  compatibilityDate: COMPATIBILITY_DATE,
  bindings: { ORIGIN_URL: origin.url, ORIGIN_PUBLIC_KEY: origin.keys.publicKey, READ_AHEAD: '0' },
  handleRuntimeStdio(stdout: Readable, stderr: Readable) {
    stdout.on('data', (d: Buffer) => (runtimeLog += d))
    stderr.on('data', (d: Buffer) => (runtimeLog += d))
  },
})
t.teardown(() => mf.dispose())
const edgeUrl = (await mf.ready).href.replace(/\/$/, '')
const port = Number(new URL(edgeUrl).port)

/**
 * What workerd logs when it refuses a request before the Worker runs: it cannot build the URL
 * (target `*`, Host `a b`), its entry worker cannot (Host `[`: "remote.jsg.TypeError"), or the
 * Content-Length is not a number. The same requests give the same lines with a Worker that only
 * echoes request.url, so they are the runtime's.
 */
const RUNTIME_REFUSAL = /Uncaught exception: (kj\/compat\/url\.c\+\+|kj\/compat\/http\.c\+\+:\d+: failed: invalid Content-Length|.*remote\.jsg\.TypeError: Invalid URL string)/

/** A 5xx that workerd's HTTP server wrote itself (plain text), not one of the Worker's JSON answers. */
function fromRuntime(answer: RawAnswer): boolean {
  return answer.status !== null && answer.status >= 500 && !answer.body.trimStart().startsWith('{')
}

let runtimeRefusals = 0
/** The Worker's part: a 4xx, a close, or a 5xx the runtime wrote before the Worker ran. */
function workerRefused(answer: RawAnswer): boolean {
  if (fromRuntime(answer)) runtimeRefusals++
  return refused(answer) || fromRuntime(answer)
}
function workerNoServerError(answer: RawAnswer): boolean {
  if (fromRuntime(answer)) runtimeRefusals++
  return noServerError(answer) || fromRuntime(answer)
}

async function assertAlive(t: Test, after: string): Promise<void> {
  const health = await rawExchange(port, plainGet('/healthz'))
  t.equal(health.status, 200, `/healthz answers 200 after ${after}`)
  const served = await rawExchange(port, plainGet(chunk))
  t.equal(served.status, 200, `and a chunk is still served after ${after}`)
  const stats = (await (await fetch(`${edgeUrl}/_chorus/stats`)).json()) as EdgeStatsJson
  t.same(
    Object.keys(stats.errors).filter((status) => Number(status) >= 500),
    [],
    `the Worker answered no 5xx (${JSON.stringify(stats.errors)})`,
  )
  t.notMatch(runtimeLog, /chorus edge: unexpected error/, 'the Worker logged no unexpected error')
  const uncaught = runtimeLog.split('\n').filter((line) => /uncaught/i.test(line) && !RUNTIME_REFUSAL.test(line))
  t.same(uncaught, [], 'workerd logged no uncaught exception but its own refusals of unparsable requests')
}

t.test('malformed request-targets: 4xx, a closed socket, or refused by workerd itself', async (t) => {
  const before = runtimeRefusals
  await sendTargets(t, port, MALFORMED_TARGETS, workerRefused)
  t.comment(`${runtimeRefusals - before} of ${MALFORMED_TARGETS.length * 2} were refused by workerd with a plain-text 5xx before the Worker ran`)
  await assertAlive(t, 'malformed targets')
})

t.test('malformed request-targets under /v1/chunks/', async (t) => {
  const cases = MALFORMED_TARGETS.map((c) => ({ name: `/v1/chunks/ + ${c.name}`, target: Buffer.concat([Buffer.from('/v1/chunks/'), c.target.subarray(c.target[0] === 0x2f ? 1 : 0)]) }))
  await sendTargets(t, port, cases, workerRefused)
  await assertAlive(t, 'malformed chunk targets')
})

t.test('malformed headers', async (t) => {
  for (const path of ['/healthz', chunk, '//']) {
    for (const { name, bytes } of malformedHeaderRequests(path)) {
      const answer = await rawExchange(port, bytes)
      t.ok(path === '//' ? workerRefused(answer) : workerNoServerError(answer), `${name} on ${path}: ${describe(answer)}`)
    }
  }
  await assertAlive(t, 'malformed headers')
})

t.test('200 seeded random targets', async (t) => {
  const before = runtimeRefusals
  await sendTargets(t, port, randomTargets(13, 200), workerNoServerError)
  t.comment(`${runtimeRefusals - before} of 400 were refused by workerd with a plain-text 5xx before the Worker ran`)
  await assertAlive(t, 'random targets')
})

t.test('connections reset right after a request', async (t) => {
  await resetAfterSending(port, plainGet(chunk), 60)
  await resetAfterSending(port, plainGet('//'), 60)
  await assertAlive(t, 'resets')
})
