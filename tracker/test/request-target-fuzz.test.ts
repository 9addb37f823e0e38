// Malformed request-targets and headers against `chorus tracker` as a process, in one process and
// sharded, over raw sockets: every bad request gets a 4xx (or a closed socket), and the tracker
// (primary and shards) is still there afterwards. `GET //` with Upgrade headers used to end it:
// `new URL('//', base)` threw in the upgrade listener.

import type { ChildProcess } from 'node:child_process'
import { spawn } from 'node:child_process'
import type { Test } from 'tap'
import t from 'tap'
import { parseRequestTarget } from '../src/request-target.js'
import { connectPeer, hexId } from './helpers/peer-socket.js'
import {
  MALFORMED_TARGETS,
  describe,
  isErrorBody,
  malformedHeaderRequests,
  noServerError,
  plainGet,
  randomTargets,
  rawExchange,
  refused,
  resetAfterSending,
  sendTargets,
  upgradeGet,
} from '../../test-support/raw-http.js'

const ROOT = new URL('../../', import.meta.url).pathname
const SCRIPT = "const { commands } = await import('./tracker/src/cli.ts'); process.exitCode = await commands.tracker.run(process.argv.slice(1))"

interface RunningTracker {
  port: number
  url: string
  child: ChildProcess
  /** Everything the process wrote to stderr (a restarted shard says so there). */
  stderr(): string
  /** How the process ended, or null while it runs. */
  exit(): string | null
}

async function startTracker(t: Test, shards: number): Promise<RunningTracker> {
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', SCRIPT, '--', '--port', '0', '--json', '--shards', String(shards)], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stderr = ''
  let exit: string | null = null
  child.stderr?.on('data', (d: Buffer) => (stderr += d))
  child.on('exit', (code, signal) => (exit = `exit ${signal ?? code}`))
  t.teardown(async () => {
    if (exit !== null) return
    const gone = new Promise((resolve) => child.once('exit', resolve))
    child.kill('SIGTERM')
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
    await gone
    clearTimeout(timer)
  })
  const line = await new Promise<string>((resolve, reject) => {
    let out = ''
    child.stdout?.on('data', (d: Buffer) => {
      out += d
      if (out.includes('\n')) resolve(out.split('\n')[0] as string)
    })
    child.once('exit', () => reject(new Error(`tracker did not start: ${stderr}`)))
  })
  const { url } = JSON.parse(line) as { url: string }
  return { url, port: Number(new URL(url).port), child, stderr: () => stderr, exit: () => exit }
}

/** The process runs, no shard was restarted, and /healthz answers 200. */
async function assertAlive(t: Test, tracker: RunningTracker, after: string): Promise<void> {
  t.equal(tracker.exit(), null, `the tracker process is still running after ${after}`)
  t.notMatch(tracker.stderr(), /exited|restarting|Error|uncaught/i, `nothing crashed after ${after} (no shard restarted)`)
  const health = await rawExchange(tracker.port, plainGet('/healthz'))
  t.equal(health.status, 200, `/healthz answers 200 after ${after}`)
  if (health.status === 200) t.match(JSON.parse(health.body), { ok: true })
}

t.test('parseRequestTarget: origin-form and absolute-form, never a throw', async (t) => {
  const path = (target: string | undefined) => parseRequestTarget(target)?.pathname ?? null
  t.equal(path('/announce'), '/announce')
  t.equal(parseRequestTarget('/announce?token=a%20b')?.searchParams.get('token'), 'a b')
  t.equal(path('//'), '//', '`//` is a path of empty segments, not a scheme-relative URL')
  t.equal(path('///'), '///')
  t.equal(path('//evil.com/announce'), '//evil.com/announce', 'no authority is read out of an origin-form target')
  t.equal(path('/\\evil.com'), '//evil.com')
  t.equal(path('/%zz'), '/%zz')
  t.equal(path('http://127.0.0.1:8789/announce'), '/announce', 'absolute-form is accepted')
  t.equal(path('WS://x/swarm/ab'), '/swarm/ab')
  for (const bad of [undefined, '', '*', 'a', 'announce', '127.0.0.1:80', 'http://[::1', 'http://', 'http://a:99999/', 'ws://[/announce', 'file:///etc/passwd', 'javascript:alert(1)', ' /announce']) {
    t.equal(parseRequestTarget(bad), null, `${JSON.stringify(bad)} is refused`)
  }
  const random = randomTargets(7, 2000)
  t.doesNotThrow(
    () =>
      random.forEach((c) => {
        parseRequestTarget(c.target.toString('latin1'))
      }),
    '2000 random targets parse or are refused',
  )
})

for (const shards of [1, 3]) {
  const mode = shards === 1 ? 'one process' : `${shards} shards`
  t.test(`chorus tracker (${mode}) survives malformed requests`, async (t) => {
    const tracker = await startTracker(t, shards)
    const swarmPath = `/swarm/${hexId()}`
    const tracked = shards === 1 ? '/announce' : swarmPath

    await t.test('GET // with Upgrade headers (the crash): a JSON 404, the process lives', async (t) => {
      const answer = await rawExchange(tracker.port, upgradeGet('//'))
      t.equal(answer.status, 404, describe(answer))
      t.ok(isErrorBody(answer, 'not_found'), 'a JSON error body')
      t.ok(answer.closed || /connection: close/i.test(answer.head), 'the socket is not kept')
      await assertAlive(t, tracker, 'GET //')
    })

    await t.test('a target that is neither a path nor an absolute URL: 400 bad_request, on both listeners', async (t) => {
      for (const target of ['*', 'http://[::1', 'ws://[/announce', 'http://a:99999/']) {
        for (const [kind, bytes] of [
          ['GET', plainGet(target)],
          ['upgrade', upgradeGet(target)],
        ] as const) {
          const answer = await rawExchange(tracker.port, bytes)
          t.equal(answer.status, 400, `${kind} ${target}: ${describe(answer)}`)
          t.ok(isErrorBody(answer, 'bad_request'), `${kind} ${target}: { error: { code: "bad_request" } }`)
        }
      }
      await assertAlive(t, tracker, 'targets that do not parse')
    })

    await t.test('malformed request-targets, as plain GETs and as upgrades', async (t) => {
      const answers = (await sendTargets(t, tracker.port, MALFORMED_TARGETS, refused)).map((r) => r.answer)
      // Those the tracker answers itself (not Node's parser) carry the project's error shape.
      const ours = answers.filter((a) => a.body.startsWith('{'))
      t.ok(ours.length > MALFORMED_TARGETS.length, `${ours.length} answered by the tracker`)
      t.ok(
        ours.every((a) => isErrorBody(a, a.status === 400 ? 'bad_request' : 'not_found')),
        'each as { error: { code, message } }',
      )
      await assertAlive(t, tracker, 'malformed targets')
    })

    await t.test('odd but legal targets on the tracker path still work', async (t) => {
      for (const target of [`${tracked}?token=%zz`, `${tracked}?%`, `${tracked}?a=1&&&=`, `http://127.0.0.1${tracked}`, `/x/..${tracked}`, `/.${tracked}`]) {
        const answer = await rawExchange(tracker.port, upgradeGet(target))
        t.equal(answer.status, 101, `upgrade ${target}: ${describe(answer)}`)
      }
      await assertAlive(t, tracker, 'legal targets')
    })

    await t.test('malformed headers and handshakes', async (t) => {
      for (const { name, bytes } of malformedHeaderRequests(tracked)) {
        const answer = await rawExchange(tracker.port, bytes)
        t.ok(noServerError(answer), `${name}: ${describe(answer)}`)
      }
      for (const { name, bytes } of malformedHeaderRequests('//')) {
        const answer = await rawExchange(tracker.port, bytes)
        t.ok(refused(answer), `${name} on //: ${describe(answer)}`)
      }
      await assertAlive(t, tracker, 'malformed headers')
    })

    await t.test('200 seeded random targets, as plain GETs and as upgrades', async (t) => {
      const answers = (await sendTargets(t, tracker.port, randomTargets(shards, 200), noServerError)).map((r) => r.answer)
      t.ok(answers.filter((a) => a.status !== null && a.status >= 400).length > 350, 'nearly all are refused')
      await assertAlive(t, tracker, 'random targets')
    })

    await t.test('connections reset in the middle of the handshake', async (t) => {
      await resetAfterSending(tracker.port, upgradeGet(tracked), 200)
      await assertAlive(t, tracker, 'resets during the handshake')
    })

    await t.test('and it still does its job: two peers meet in a swarm', async (t) => {
      const base = tracker.url.replace(/^http/, 'ws')
      const infoHash = swarmPath.slice('/swarm/'.length)
      const holder = await connectPeer(`${base}${swarmPath}`)
      const seeker = await connectPeer(`${base}${swarmPath}`)
      holder.send({ action: 'announce', info_hash: infoHash, peer_id: hexId(), left: 0 })
      await holder.next((f) => 'interval' in f)
      seeker.send({ action: 'announce', info_hash: infoHash, peer_id: hexId(), left: 9, offers: [{ offer: { type: 'offer', sdp: 'v=0' }, offer_id: hexId() }] })
      t.match(await seeker.next((f) => 'interval' in f), { complete: 1, incomplete: 1 })
      t.match(await holder.next((f) => 'offer' in f), { info_hash: infoHash }, 'the offer is relayed')
      await Promise.all([holder.close(), seeker.close()])
      await assertAlive(t, tracker, 'everything')
    })
  })
}
