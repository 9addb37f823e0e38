import { readFileSync } from 'node:fs'
import t from 'tap'
import { ProcessError, runProcess, startProcess, stopAll, supervise } from '../process.js'

/** A child Node process running `code`. */
const node = (code: string) => ['-e', code]
/** Running, not a zombie waiting for a reaper (in a container, PID 1 may never reap it). */
const alive = (pid: number) => {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]![0] !== 'Z'
  } catch {
    return false
  }
}

t.test('ready on a JSON ready line, with its value; stop ends it with SIGTERM', async (t) => {
  const p = await startProcess({
    name: 'server',
    args: node(`console.log('booting'); setTimeout(() => console.log(JSON.stringify({ ready: true, url: 'http://x' })), 100); setInterval(() => {}, 1000)`),
    ready: 'json-line',
  })
  t.same(p.readyValue, { ready: true, url: 'http://x' })
  t.notOk(p.done)
  const exit = await p.stop()
  t.equal(exit.signal, 'SIGTERM')
  t.ok(p.done)
})

t.test('ready on a line matching a pattern, stderr included', async (t) => {
  const p = await startProcess({ name: 'server', args: node(`console.error('listening on port 4321'); setInterval(() => {}, 1000)`), ready: /port (\d+)/ })
  t.equal(p.readyValue[1], '4321')
  await p.stop()
})

t.test('ready when a probe says so; a probe that throws is the start error', async (t) => {
  let calls = 0
  const p = await startProcess({ name: 'server', args: node('setInterval(() => {}, 1000)'), ready: { probe: async () => ++calls >= 3 } })
  t.equal(calls, 3)
  await p.stop()
  const failing = supervise({ name: 'server', args: node('setInterval(() => {}, 1000)') })
  await t.rejects(
    failing.ready({
      probe: async () => {
        throw new Error('invalid configuration: X')
      },
    }),
    { name: 'ProcessError', message: 'invalid configuration: X' },
  )
  await failing.stop()
})

t.test('a child that dies before it is ready: the error carries its stderr tail', async (t) => {
  const err = await startProcess({ name: 'origin', args: node(`console.error('line 1'); console.error('cannot listen: EADDRINUSE'); process.exit(3)`), ready: 'json-line' }).catch((e: unknown) => e)
  t.ok(err instanceof ProcessError)
  t.match((err as ProcessError).message, /^origin exited \(3\) before it was ready: line 1 \/ cannot listen: EADDRINUSE$/)
  t.match((err as ProcessError).stderrTail, /EADDRINUSE/)
  t.same((err as ProcessError).exit, { code: 3, signal: null })
})

t.test('a command that does not exist fails the start, not the process', async (t) => {
  await t.rejects(startProcess({ name: 'nothing', command: '/nonexistent/binary', args: [], ready: 'json-line' }), { name: 'ProcessError', message: /nothing exited .*ENOENT/ })
})

t.test('a child that never gets ready: a timeout, and the child is stopped', async (t) => {
  const p = supervise({ name: 'slow', args: node(`console.error('still warming up'); setInterval(() => {}, 1000)`) })
  // Long enough for a loaded machine to start node and let it write (0.3 s was not, once in CI).
  await t.rejects(p.ready('json-line', 4000), { message: /^slow did not become ready in 4 s: still warming up$/ })
  t.notOk(p.done, 'ready() alone leaves it running')
  await p.stop()
  const err = await startProcess({ name: 'slow', args: node('setInterval(() => {}, 1000)'), ready: 'json-line', timeoutMs: 200 }).catch((e: unknown) => e)
  t.match(err, { message: /no output/ })
})

t.test('stop escalates to SIGKILL when SIGTERM is ignored', async (t) => {
  const p = await startProcess({ name: 'stubborn', args: node(`process.on('SIGTERM', () => {}); console.log('{"ready":true}'); setInterval(() => {}, 1000)`), ready: 'json-line' })
  const started = Date.now()
  const exit = await p.stop(300)
  t.equal(exit.signal, 'SIGKILL')
  t.ok(Date.now() - started >= 250)
})

t.test('a group is stopped whole: the child of the child goes too', async (t) => {
  const code = `const { spawn } = require('node:child_process'); const g = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' }); console.log(JSON.stringify({ ready: true, grandchild: g.pid })); setInterval(() => {}, 1000)`
  const p = await startProcess({ name: 'wrangler-like', args: node(code), group: true, ready: 'json-line' })
  const grandchild = p.readyValue.grandchild as number
  t.ok(alive(grandchild))
  await p.stop()
  for (let i = 0; i < 50 && alive(grandchild); i++) await new Promise((r) => setTimeout(r, 20))
  t.notOk(alive(grandchild), 'the grandchild is gone')
})

t.test('stopAll stops every one, running or not', async (t) => {
  const a = supervise({ name: 'a', args: node('setInterval(() => {}, 1000)') })
  const b = supervise({ name: 'b', args: node('process.exit(0)') })
  await b.exited
  await stopAll([a, b])
  t.ok(a.done && b.done)
})

t.test('every stdout line reaches onLine, split at newlines however the chunks come', async (t) => {
  const lines: string[] = []
  const p = supervise({ name: 'lines', args: node(`process.stdout.write('a\\nb'); setTimeout(() => process.stdout.write('c\\nd\\n'), 50)`), onLine: (l) => lines.push(l) })
  await p.exited
  await new Promise((r) => setTimeout(r, 20))
  t.same(lines, ['a', 'bc', 'd'])
})

t.test('runProcess: output and exit code; killed past its timeout', async (t) => {
  const done = await runProcess({ name: 'echo', args: node(`console.log('out'); console.error('err'); process.exit(4)`) })
  t.same(done, { code: 4, signal: null, stdout: 'out\n', stderr: 'err\n' })
  const hung = await runProcess({ name: 'hung', args: node('setInterval(() => {}, 1000)'), timeoutMs: 200 })
  t.ok(hung.signal === 'SIGTERM' || hung.signal === 'SIGKILL')
})
