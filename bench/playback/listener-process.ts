import { readdirSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { createServer } from 'node:http'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { seeded } from '../../protocol/index.js'
import { createCountingWrtc } from './counting-wrtc.js'
import { type WorkerCounters, type WorkerInit, type WorkerMessage, absoluteNow } from './ipc.js'
import { cacheDirFor, createProbe, runListener } from './listener.js'

/**
 * A process that runs a few of a phase's listeners. Listeners are spread over processes
 * because each RTCPeerConnection of @roamhq/wrtc holds about 50 file descriptors once it has
 * gathered its candidates, and a process may open 20,000 here: one process could not hold
 * every listener's connections. It also keeps the listeners' event loop apart from the servers'.
 */
const LOOP_RESOLUTION_MS = 10
const lag = (ns: number) => Math.max(0, ns / 1e6 - LOOP_RESOLUTION_MS)
const send = (m: WorkerMessage) => process.send?.(m)
const fds = () => {
  try {
    return readdirSync('/proc/self/fd').length
  } catch {
    return 0
  }
}

process.once('message', (init: WorkerInit) => {
  void main(init).then(
    () => process.exit(0),
    (err: Error) => {
      send({ type: 'log', line: `worker: ${err.stack ?? err.message}` })
      process.exit(1)
    },
  )
})
// The parent gone: nothing left to report to.
process.on('disconnect', () => process.exit(0))
// Every module is loaded and the runtime warm by now: the phase's clock may start.
await warmRuntime()
send({ type: 'ready' })

/**
 * What Node does once per process, before the clock starts: its fetch is compiled on first use
 * (about 45 ms here, measured: a browser has it built in, and an app pays it once as it starts),
 * and WebCrypto loads its algorithms on first use. Left in, the first play of each worker
 * process would measure that rather than the path to the first audio.
 */
async function warmRuntime(): Promise<void> {
  const server = createServer((_req, res) => res.end('warm'))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await (await fetch(`http://127.0.0.1:${port}/`)).text()
  server.close()
  const pair = (await crypto.subtle.generateKey({ name: 'Ed25519' }, false, ['sign', 'verify'])) as CryptoKeyPair
  const data = new Uint8Array(32 * 1024)
  await crypto.subtle.verify('Ed25519', pair.publicKey, await crypto.subtle.sign('Ed25519', pair.privateKey, data), data)
  const aes = await crypto.subtle.importKey('raw', new Uint8Array(16), 'AES-CTR', false, ['decrypt'])
  await crypto.subtle.decrypt({ name: 'AES-CTR', counter: new Uint8Array(16), length: 64 }, aes, data)
  await crypto.subtle.digest('SHA-256', data)
}

async function main(init: WorkerInit): Promise<void> {
  const probes = init.listeners.map(() => createProbe())
  const rtc = createCountingWrtc()
  const cpuStart = process.cpuUsage()
  let maxFds = 0
  const counters = (): WorkerCounters => {
    const c: WorkerCounters = { cache: 0, peer: 0, edge: 0, online: 0, fds: fds() }
    maxFds = Math.max(maxFds, c.fds)
    for (const p of probes) {
      c.cache += p.doneBytes.cache + (p.playback?.stats()?.bytes.cache ?? 0)
      c.peer += p.doneUploaded + (p.client?.stats().network?.uploadedBytes ?? 0)
      c.edge += p.edgeBytes
      if (p.online) c.online++
    }
    return c
  }
  const loop = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS })
  loop.enable()
  const timer = setInterval(() => send({ type: 'counters', counters: counters() }), 500)
  // This process's clock, aligned on the parent's: deadlines are absolute.
  const offset = performance.now() - absoluteNow()
  await Promise.all(
    init.listeners.map(({ script, trackerUrl }, i) =>
      runListener(
        script,
        {
          p2p: init.p2p,
          catalog: init.catalog,
          edgeUrl: init.edgeUrl,
          keysUrl: init.keysUrl,
          trackerUrl,
          apiKey: init.apiKey,
          cacheDir: cacheDirFor(init.cacheRoot, script.index),
          speed: init.speed,
          phaseStart: init.phaseStart + offset,
          deadline: init.deadline + offset,
          random: seeded(init.seed * 7919 + script.index),
          ...(init.scheduler && { scheduler: init.scheduler }),
          wrtc: rtc.wrtc,
          onPlay: (record) => send({ type: 'play', record }),
          onSession: (record) => send({ type: 'session', record }),
        },
        probes[i]!,
      ).catch((err: Error) => send({ type: 'log', line: `listener ${script.index}: ${err.message}` })),
    ),
  )
  clearInterval(timer)
  loop.disable()
  const final = counters()
  const cpu = process.cpuUsage(cpuStart)
  const done: WorkerMessage = {
    type: 'done',
    counters: final,
    eventLoopMs: { p50: lag(loop.percentile(50)), p99: lag(loop.percentile(99)), max: lag(loop.max) },
    maxFds,
    peerConnections: rtc.counters,
    cpuMs: (cpu.user + cpu.system) / 1000,
  }
  await new Promise<void>((resolve) => process.send!(done, () => resolve()))
}
