import { spawn } from 'node:child_process'
import t from 'tap'
import { ROOT, chunkPaths, edgeCommand, makeCatalog, signedManifest, startTestOrigin } from '../../test-support/edge.js'

t.test('`chorus edge --origin URL --port 0 --json` runs the Worker under wrangler dev and serves chunks', async (t) => {
  const { dataDir } = await makeCatalog(t, [{ trackId: 'song', seconds: 2 }])
  const origin = await startTestOrigin(t, dataDir)
  const doc = await signedManifest(origin.url, 'song')
  const path = chunkPaths(doc.manifest)[1]!

  // No --public-key: the command reads it from the origin, as the help says.
  const operatorToken = 'operator-token-for-the-cli-test'
  const child = spawn(process.execPath, edgeCommand(['--origin', origin.url, '--port', '0', '--json', '--var', 'READ_AHEAD=0']), {
    cwd: ROOT,
    // The variable `chorus start` gives every part: the edge must read it too.
    env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CHORUS_OPERATOR_TOKEN: operatorToken },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stderr = ''
  child.stderr.on('data', (d) => (stderr += d))
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL')
  })

  const ready = await new Promise<{ ready: boolean; url: string; policy: string }>((resolve, reject) => {
    let out = ''
    child.stdout.on('data', (d) => {
      out += d
      const line = out.split('\n').find((l) => l.startsWith('{'))
      if (line) resolve(JSON.parse(line))
    })
    void exited.then((code) => reject(new Error(`chorus edge exited (${code}) before it was ready: ${stderr.slice(-1000)}`)))
  })
  t.equal(ready.ready, true)
  t.match(ready.url, /^http:\/\/127\.0\.0\.1:\d+$/)
  t.equal(ready.policy, 'chunk-aware')

  const expected = new Uint8Array(await (await fetch(`${origin.url}${path}`)).arrayBuffer())
  const first = await fetch(`${ready.url}${path}`)
  t.equal(first.status, 200)
  t.equal(first.headers.get('x-cache'), 'MISS')
  t.same(new Uint8Array(await first.arrayBuffer()), expected)
  const second = await fetch(`${ready.url}${path}`)
  t.equal(second.headers.get('x-cache'), 'HIT-MEMORY')
  t.same(new Uint8Array(await second.arrayBuffer()), expected)
  const anonymous = await fetch(`${ready.url}/_chorus/stats`)
  t.equal(anonymous.status, 401, 'CHORUS_OPERATOR_TOKEN reached the Worker: stats need it')
  await anonymous.arrayBuffer()
  const statsRes = await fetch(`${ready.url}/_chorus/stats`, { headers: { authorization: `Bearer ${operatorToken}` } })
  t.equal(statsRes.status, 200)
  const text = await statsRes.text()
  const stats = JSON.parse(text) as { config: { readAhead: number } }
  t.equal(stats.config.readAhead, 0, '--var reached the Worker')
  t.notOk(text.includes(origin.url) || text.includes(new URL(origin.url).host), 'stats do not reveal where the origin is')

  child.kill('SIGTERM')
  t.equal(await exited, 0, 'SIGTERM stops it cleanly')
  await t.rejects(fetch(`${ready.url}/healthz`), 'and workerd is gone with it')
})
