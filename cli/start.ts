import { type ChildProcess, spawn } from 'node:child_process'
import { join } from 'node:path'
import { buildPlayer } from '../client-sdk/player/build.js'
import { DEMO_API_KEY } from '../origin/src/api-keys.js'
import { ingestDemo } from '../origin/src/cli.js'
import { createStore } from '../origin/src/store.js'
import { type Command, DEFAULT_PORTS, defaultDataDir, intOption, parseCommandArgs, untilSignal } from './command.js'

const CHORUS = new URL('../bin/chorus.js', import.meta.url).pathname
const READY_TIMEOUT_MS = 180_000

/** One server of the stack, started as its own `chorus <part>` process. */
interface Part {
  name: string
  args: string[]
  health: (ready: Record<string, unknown>) => string
}

interface Running {
  name: string
  child: ChildProcess
  ready: Record<string, unknown> & { url: string }
}

function startPart(part: Part, env: NodeJS.ProcessEnv): Promise<Running> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHORUS, part.name, ...part.args, '--json'], { env, stdio: ['ignore', 'pipe', 'pipe'] })
    let stderr = ''
    let stdout = ''
    child.stderr!.on('data', (d) => {
      stderr = (stderr + d).slice(-4000)
    })
    const onData = (d: Buffer) => {
      stdout += d
      const line = stdout.split('\n').find((l) => l.startsWith('{"ready"'))
      if (!line) return
      child.stdout!.off('data', onData)
      child.stdout!.resume()
      child.off('exit', onExit)
      resolve({ name: part.name, child, ready: JSON.parse(line) })
    }
    const onExit = (code: number | null) => {
      const cause = stderr.trim().split('\n').filter(Boolean).slice(-3).join(' / ') || `exit code ${code}`
      reject(new Error(`${part.name} failed to start: ${cause}`))
    }
    child.stdout!.on('data', onData)
    child.once('exit', onExit)
    // A part that neither answers nor dies must not hold the whole start forever.
    const timer = setTimeout(() => {
      child.off('exit', onExit)
      child.kill('SIGKILL')
      reject(new Error(`${part.name} did not become ready in ${READY_TIMEOUT_MS / 1000} s: ${stderr.trim().split('\n').slice(-3).join(' / ') || 'no output'}`))
    }, READY_TIMEOUT_MS)
    child.once('exit', () => clearTimeout(timer))
    child.stdout!.once('data', () => undefined)
    const clear = () => clearTimeout(timer)
    child.stdout!.on('data', () => {
      if (stdout.includes('{"ready"')) clear()
    })
  })
}

function stopAll(running: Running[]): Promise<void> {
  return Promise.all(
    running.map(
      ({ child }) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve()
          child.once('exit', () => resolve())
          child.kill('SIGTERM')
          setTimeout(() => child.kill('SIGKILL'), 5000).unref()
        }),
    ),
  ).then(() => undefined)
}

export const start: Command = {
  summary: 'run the whole stack on localhost with the demo catalog',
  help: `Usage: chorus start [options]       (npm start)

Creates the demo catalog when the catalog is empty, then starts every part of Chorus on
localhost, each as its own process, and prints one line of health for each once all answer.
Ctrl-C or SIGTERM stops every process it started.

Options:
  --data DIR            catalog directory (default: $CHORUS_DATA or ./data)
  --host HOST           address every part listens on (default: 127.0.0.1)
  --origin-port PORT    (default: ${DEFAULT_PORTS.origin}; env CHORUS_ORIGIN_PORT)
  --tracker-port PORT   (default: ${DEFAULT_PORTS.tracker}; env CHORUS_TRACKER_PORT)
  --edge-port PORT      (default: ${DEFAULT_PORTS.edge}; env CHORUS_EDGE_PORT): the player's address
  --no-p2p              the web player plays from the edge alone (no tracker, no peers)
  --demo-duration S     make the demo tracks S seconds long (quick start for tests)
  env CHORUS_API_KEY    the API key the web player uses (default: the demo key)
  --json                print one JSON line with every part's URL once all answer
  -h, --help            this help
`,
  async run(argv) {
    const { values } = parseCommandArgs(argv, {
      data: { type: 'string' },
      host: { type: 'string' },
      'origin-port': { type: 'string' },
      'tracker-port': { type: 'string' },
      'edge-port': { type: 'string' },
      'no-p2p': { type: 'boolean' },
      'demo-duration': { type: 'string' },
      json: { type: 'boolean' },
    })
    const env = process.env
    const dataDir = values.data ?? defaultDataDir(env)
    const host = values.host ?? '127.0.0.1'
    const originPort = intOption(values['origin-port'] ?? env.CHORUS_ORIGIN_PORT, 'origin-port', DEFAULT_PORTS.origin, 0, 65535)
    const json = values.json === true
    const say = (line: string) => process.stderr.write(`${line}\n`)

    if ((await createStore({ dataDir }).catalog()).length === 0) {
      say(`catalog in ${dataDir} is empty: creating the demo catalog (a few minutes, once)...`)
      const demo: Parameters<typeof ingestDemo>[1] = { json }
      if (values['demo-duration']) demo.durationSec = intOption(values['demo-duration'], 'demo-duration', 0, 1, 3600)
      await ingestDemo(dataDir, demo)
    }

    const trackerPort = intOption(values['tracker-port'] ?? env.CHORUS_TRACKER_PORT, 'tracker-port', DEFAULT_PORTS.tracker, 0, 65535)
    const edgePort = intOption(values['edge-port'] ?? env.CHORUS_EDGE_PORT, 'edge-port', DEFAULT_PORTS.edge, 0, 65535)
    const parts: Part[] = [
      { name: 'origin', args: ['--data', dataDir, '--host', host, '--port', String(originPort), '--quiet'], health: (r) => `${r.tracks} tracks, manifest key ${String(r.keyId)}` },
      { name: 'tracker', args: ['--host', host, '--port', String(trackerPort)], health: () => 'WebSocket at /announce' },
    ]
    const running: Running[] = []
    try {
      // The origin and the tracker start side by side; the edge needs the origin's address and key.
      const started = await Promise.allSettled(parts.map((part) => startPart(part, env)))
      for (const r of started) if (r.status === 'fulfilled') running.push(r.value)
      const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected')
      if (failed) throw failed.reason
      const origin = running[0]!.ready
      // The page learns from config.json where the tracker and the origin are and which key to use.
      await buildPlayer({
        tracker: `${running[1]!.ready.url.replace(/^http/, 'ws')}/announce`,
        origin: origin.url,
        apiKey: env.CHORUS_API_KEY ?? DEMO_API_KEY,
        publicKey: String(origin.publicKey),
        p2p: values['no-p2p'] !== true,
      })
      const edge: Part = {
        name: 'edge',
        args: ['--origin', origin.url, '--public-key', String(origin.publicKey), '--host', host, '--port', String(edgePort)],
        health: () => 'workerd (wrangler dev)',
      }
      parts.push(edge)
      running.push(await startPart(edge, env))
    } catch (err) {
      await stopAll(running)
      throw err
    }
    const urls = Object.fromEntries(running.map((r) => [r.name, r.ready.url])) as Record<string, string>
    const tracker = `${urls.tracker!.replace(/^http/, 'ws')}/announce`
    if (json) process.stdout.write(`${JSON.stringify({ ready: true, url: urls.edge, player: `${urls.edge}/`, operator: `${urls.edge}/operator`, origin: urls.origin, edge: urls.edge, tracker })}\n`)
    say(`player   ${urls.edge}/`)
    for (const [i, r] of running.entries()) say(`${r.name.padEnd(8)} ${r.ready.url}  ${parts[i]!.health(r.ready)}`)
    say(`data: ${join(dataDir)}; Ctrl-C stops everything`)

    const exited = new Promise<string>((resolve) => {
      for (const r of running) r.child.once('exit', (code) => resolve(`${r.name} exited (code ${code})`))
    })
    const why = await Promise.race([untilSignal(), exited])
    await stopAll(running)
    if (why.includes('exited')) {
      say(`chorus start: ${why}; stopped the rest`)
      return 1
    }
    return 0
  },
}
