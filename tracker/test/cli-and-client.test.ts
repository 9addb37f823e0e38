// `chorus tracker` as a process (ready line, flags, clean stop on SIGTERM), and the SDK's tracker
// client coming back after the tracker restarts, as every socket does after a deploy.

import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort } from '../../support/process.js'
import { testOriginKey } from '../../test-support/origin-key.js'
import t from 'tap'
import { WebSocket } from 'ws'
import type { TrackerReply } from '../../protocol/index.js'
import { swarmInfoHash } from '../../protocol/index.js'
import { chorusTrack, createTrackerClient, reconnectDelay } from '../../client-sdk/index.js'
import type { TrackerClient, WebSocketConstructor } from '../../client-sdk/index.js'
import { createTrackerServer } from '../src/server.js'
import { seeded } from './helpers/fuzz.js'
import { connectPeer, hexId } from './helpers/peer-socket.js'

const ROOT = new URL('../../', import.meta.url).pathname

t.test('chorus tracker: ready line, limits from flags, stops on SIGTERM', async (t) => {
  const script = "const { commands } = await import('./tracker/src/cli.ts'); process.exitCode = await commands.tracker.run(process.argv.slice(1))"
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      '--input-type=module',
      '-e',
      script,
      '--',
      '--port',
      '0',
      '--json',
      '--max-swarms-per-socket',
      '1',
      '--no-scrape',
      '--max-connections-per-address',
      '1',
      '--limit-loopback',
      '--ban-strikes',
      '0',
    ],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
  )
  t.teardown(() => child.kill('SIGKILL'))
  const line = await new Promise<string>((resolve) => {
    let out = ''
    child.stdout.on('data', (d: Buffer) => {
      out += d
      if (out.includes('\n')) resolve(out.split('\n')[0] as string)
    })
  })
  const ready = JSON.parse(line) as { ready: boolean; url: string }
  t.match(ready, { ready: true, url: /^http:\/\/127\.0\.0\.1:\d+$/ })
  t.match(await (await fetch(`${ready.url}/healthz`)).json(), { ok: true, connections: 0 })
  const peer = await connectPeer(`${ready.url.replace(/^http/, 'ws')}/announce`)
  peer.send({ action: 'scrape', info_hash: hexId() })
  t.match(await peer.next(), { failure_code: 'scrape_disabled' }, '--no-scrape')
  peer.send({ action: 'announce', info_hash: hexId(), peer_id: hexId(), left: 0 })
  await peer.next()
  peer.send({ action: 'announce', info_hash: hexId(), peer_id: hexId(), left: 0 })
  t.match(await peer.next(), { failure_code: 'too_many_swarms' }, '--max-swarms-per-socket 1')
  const first = await connectPeer(`${ready.url.replace(/^http/, 'ws')}/announce`, { from: '127.10.200.1' })
  const second = await connectPeer(`${ready.url.replace(/^http/, 'ws')}/announce`, { from: '127.10.200.1' })
  t.match(await second.next(), { failure_code: 'too_many_connections' }, '--max-connections-per-address 1 --limit-loopback')
  await first.close()
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve))
  child.kill('SIGTERM')
  t.equal(await exited, 0)
})

t.test('chorus tracker: the operator token from a file or the environment, the peer limit from a flag', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'chorus-operator-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, 'operator-token')
  writeFileSync(file, 'from-file-token\n', { mode: 0o600 })
  const script = "const { commands } = await import('./tracker/src/cli.ts'); process.exitCode = await commands.tracker.run(process.argv.slice(1))"
  const cases: Array<{ args: string[]; env: Record<string, string>; token: string }> = [
    { args: ['--operator-token-file', file, '--max-peers-per-hour', '5'], env: { CHORUS_OPERATOR_TOKEN: 'from-env-token' }, token: 'from-file-token' },
    { args: [], env: { CHORUS_OPERATOR_TOKEN: 'from-env-token' }, token: 'from-env-token' },
  ]
  for (const { args, env, token } of cases) {
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, '--', '--port', '0', '--json', ...args], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'ignore'],
      env: { ...process.env, ...env },
    })
    t.teardown(() => child.kill('SIGKILL'))
    const line = await new Promise<string>((resolve) => {
      let out = ''
      child.stdout.on('data', (d: Buffer) => {
        out += d
        if (out.includes('\n')) resolve(out.split('\n')[0] as string)
      })
    })
    const { url } = JSON.parse(line) as { url: string }
    const denied = await fetch(`${url}/metrics`)
    t.equal(denied.status, 401, `${token}: /metrics without the token is refused`)
    t.match(await denied.json(), { error: { code: 'unauthorized' } })
    t.equal((await fetch(`${url}/metrics`, { headers: { authorization: 'Bearer from-env-token-x' } })).status, 401)
    const metrics = await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${token}` } })
    t.equal(metrics.status, 200, `${token}: the operator's token opens it`)
    t.match(await metrics.text(), new RegExp(`^chorus_tracker_peers_learned_limit ${args.length > 0 ? 5 : 60}$`, 'm'), 'the peer limit as set')
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve))
    child.kill('SIGTERM')
    t.equal(await exited, 0)
  }
})

t.test('reconnect delays grow with jitter up to the cap', async (t) => {
  t.equal(
    reconnectDelay(0, 1000, 60_000, () => 0),
    500,
  )
  t.equal(
    reconnectDelay(0, 1000, 60_000, () => 1),
    1000,
  )
  t.equal(
    reconnectDelay(3, 1000, 60_000, () => 0.5),
    6000,
  )
  t.equal(
    reconnectDelay(20, 1000, 60_000, () => 1),
    60_000,
  )
  const spread = new Set(Array.from({ length: 50 }, (_, i) => reconnectDelay(2, 1000, 60_000, seeded(i))))
  t.ok(spread.size > 40, 'clients dropped together come back at different times')
})

t.test('the client comes back after the tracker restarts, and announces again', async (t) => {
  const port = await freePort()
  let server = createTrackerServer({ port })
  await server.listen()
  t.teardown(() => server.close())
  const infoHash = hexId()
  const peerId = hexId()
  const closes: Array<number | null> = []
  let opened = 0
  let reopened!: () => void
  const secondOpen = new Promise<void>((resolve) => (reopened = resolve))
  const client: TrackerClient = createTrackerClient({
    url: `ws://127.0.0.1:${port}/announce`,
    WebSocket: WebSocket as unknown as WebSocketConstructor,
    minDelayMs: 50,
    maxDelayMs: 400,
    random: seeded(3),
    onOpen: () => {
      client.send({ action: 'announce', info_hash: infoHash, peer_id: peerId, left: 0, event: 'started' })
      if (++opened === 2) reopened()
    },
    onClose: (event) => closes.push(event.reconnectInMs),
  })
  t.teardown(() => client.close())
  const scrape = async () => {
    const p = await connectPeer(`ws://127.0.0.1:${port}/announce`)
    p.send({ action: 'scrape', info_hash: infoHash })
    const files = (await p.next()).files as Record<string, { complete: number }>
    await p.close()
    return files[infoHash]?.complete
  }
  while ((await scrape()) !== 1) await new Promise((r) => setTimeout(r, 20))
  await server.close()
  server = createTrackerServer({ port })
  await server.listen()
  await secondOpen
  t.ok(closes.length >= 1 && closes.every((d) => d !== null && d >= 25 && d <= 400), `retried after ${closes.join(', ')} ms`)
  while ((await scrape()) !== 1) await new Promise((r) => setTimeout(r, 20))
  t.pass('the new tracker knows the peer again')
  t.ok(client.connected)
})

t.test('the client does not hammer a tracker that refuses its token', async (t) => {
  const server = createTrackerServer({ authKey: (await testOriginKey()).publicKey })
  const { url } = await server.listen()
  t.teardown(() => server.close())
  const closed = new Promise<{ code: number; reconnectInMs: number | null }>((resolve) => {
    const client = createTrackerClient({
      url: `${url.replace(/^http/, 'ws')}/announce?token=nonsense`,
      WebSocket: WebSocket as unknown as WebSocketConstructor,
      onClose: (event) => {
        client.close()
        resolve(event)
      },
    })
  })
  t.match(await closed, { code: 4401, reconnectInMs: null })
})

/** A client that announces `count` times at once (30 swarms, then again) as soon as it connects. */
function burst(url: string, count: number, maxMessagesPerSecond?: number) {
  const swarms = Array.from({ length: 30 }, () => hexId())
  const peerId = hexId()
  let replies = 0
  let queuedAtOnce = 0
  const closes: Array<{ code: number; reason: string }> = []
  const client: TrackerClient = createTrackerClient({
    url,
    WebSocket: WebSocket as unknown as WebSocketConstructor,
    shouldReconnect: () => false,
    ...(maxMessagesPerSecond !== undefined && { maxMessagesPerSecond }),
    onOpen: () => {
      for (let i = 0; i < count; i++) client.send({ action: 'announce', info_hash: swarms[i % swarms.length]!, peer_id: peerId, left: 0, numwant: 0, event: i < swarms.length ? 'started' : undefined })
      queuedAtOnce = client.queued
    },
    onMessage: (reply) => {
      if ('interval' in reply) replies++
    },
    onClose: (event) => closes.push(event),
  })
  return { client, closes, replies: () => replies, queuedAtOnce: () => queuedAtOnce }
}

t.test('the client paces a burst of announces under the tracker limit instead of being closed for it', async (t) => {
  const server = createTrackerServer({})
  const { url } = await server.listen()
  t.teardown(() => server.close())
  const wsUrl = `${url.replace(/^http/, 'ws')}/announce`

  // Control: with no pacing to speak of, the same burst breaks the tracker's 20 a second.
  const unpaced = burst(wsUrl, 45, 1000)
  t.teardown(() => unpaced.client.close())
  while (unpaced.closes.length === 0) await new Promise((r) => setTimeout(r, 20))
  t.equal(unpaced.closes[0]!.code, 4429, 'an unpaced burst is closed as rate_limited')

  const started = Date.now()
  const paced = burst(wsUrl, 45)
  t.teardown(() => paced.client.close())
  while (paced.replies() < 45 && paced.closes.length === 0) await new Promise((r) => setTimeout(r, 20))
  const elapsed = Date.now() - started
  t.same(paced.closes, [], 'the paced client was never closed')
  t.equal(paced.replies(), 45, 'every announce was answered')
  t.equal(paced.queuedAtOnce(), 30, '15 went at once, 30 waited')
  t.ok(elapsed >= 1900, `the rest followed over the next seconds (${elapsed} ms)`)
  t.equal(paced.client.connections, 1)
  t.equal(paced.client.queued, 0)
})

t.test("the client's announce names its track, so a token scoped to some tracks is served", async (t) => {
  const origin = await testOriginKey()
  const server = createTrackerServer({ authKey: origin.publicKey })
  const { url } = await server.listen()
  t.teardown(() => server.close())
  const quality = { trackId: 'track-42', version: 'v3', bitrate: 160000 }
  const infoHash = await swarmInfoHash(quality.trackId, quality.version, quality.bitrate)
  const token = await origin.token({ sub: 'scoped-listener', tracks: ['track-42'] })
  const replies: TrackerReply[] = []
  let opened!: () => void
  const open = new Promise<void>((resolve) => (opened = resolve))
  const client = createTrackerClient({
    url: `${url.replace(/^http/, 'ws')}/announce`,
    WebSocket: WebSocket as unknown as WebSocketConstructor,
    onOpen: () => opened(),
    onMessage: (r) => replies.push(r),
  })
  t.teardown(() => client.close())
  await open
  const base = { action: 'announce' as const, info_hash: infoHash, peer_id: hexId(), left: 100, token }
  client.send(base)
  client.send({ ...base, chorus_track: chorusTrack(quality) })
  const deadline = Date.now() + 5000
  while (replies.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
  t.match(replies, [{ failure_code: 'track_not_covered' }, { info_hash: infoHash, interval: 120 }], 'without chorus_track refused, with it served')
})
