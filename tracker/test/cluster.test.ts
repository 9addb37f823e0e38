// The sharded Node tracker: the primary hands each socket to the process of its swarm's shard.

import t from 'tap'
import { toBinaryId } from '../../protocol/index.js'
import { createShardedTracker } from '../src/cluster.js'
import { shardOf } from '../src/core/shard.js'
import { trackerCompliance } from './helpers/compliance.js'
import type { Frame, PeerSocket } from './helpers/peer-socket.js'
import { closedWithin, connectPeer, freshAddress, hexId } from './helpers/peer-socket.js'
import { startClusterTracker } from './helpers/start-trackers.js'

t.test('compliance through the socket hand-off (one shard)', async (t) => {
  trackerCompliance(t, startClusterTracker(1))
})

t.test('three shards: each swarm lives in one process', async (t) => {
  const tracker = await startClusterTracker(3)({})
  t.teardown(() => tracker.close())
  const base = tracker.wsUrl.replace(/\/announce$/, '')
  const inShard = (k: number) => {
    let id = hexId()
    while (shardOf(toBinaryId(id) as string, 3) !== k) id = hexId()
    return id
  }
  const swarms = [inShard(0), inShard(1), inShard(2)]
  const sockets = []
  for (const swarm of swarms) {
    const holder = await connectPeer(`${base}/swarm/${swarm}`)
    const seeker = await connectPeer(`${base}/swarm/${swarm}`)
    sockets.push(holder, seeker)
    holder.send({ action: 'announce', info_hash: swarm, peer_id: hexId(), left: 0 })
    await holder.next((f) => 'interval' in f)
    seeker.send({ action: 'announce', info_hash: swarm, peer_id: hexId(), left: 9, offers: [{ offer: { type: 'offer', sdp: 'v=0' }, offer_id: hexId() }] })
    t.match(await seeker.next((f) => 'interval' in f), { complete: 1, incomplete: 1 }, 'both peers met in one shard')
    t.match(await holder.next((f) => 'offer' in f), { info_hash: swarm }, 'and the offer was relayed')
    seeker.send({ action: 'announce', info_hash: swarms[0] === swarm ? swarms[1] : swarms[0], peer_id: hexId(), left: 9 })
    t.match(await seeker.next((f) => 'failure reason' in f), { failure_code: 'wrong_shard' }, "another shard's swarm is refused")
  }
  const health = (await (await fetch(`${tracker.httpUrl}/healthz`)).json()) as Record<string, number>
  t.match(health, { ok: true, connections: 6, swarms: 3, peers: 6, shards: 3 }, '/healthz sums the shards')
  const metrics = await (await fetch(`${tracker.httpUrl}/metrics`)).text()
  t.match(metrics, /^chorus_tracker_offers_relayed_total 3$/m)
  await t.rejects(connectPeer(`${base}/announce`), /HTTP 400/, 'with several shards the swarm must be in the URL')
  await Promise.all(sockets.map((s) => s.close()))
})

t.test('a shard that dies just before the primary writes to it does not take the primary down', async (t) => {
  const tracker = createShardedTracker({ shards: 2, port: 0 })
  const { url } = await tracker.listen()
  t.teardown(() => tracker.close())
  const [first] = tracker.pids()
  process.kill(first as number, 'SIGKILL')
  // Hold this thread (the primary's) so that it cannot see the shard go before it writes to it:
  // each write then fails with EPIPE, which Node reports as an 'error' event on the child. More
  // than one write: the first such event used to be taken by a leftover listener from the start.
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200)
  const [stats] = await Promise.all([tracker.stats(), tracker.stats(), tracker.stats()])
  t.equal(stats.connections, 0, 'the live shard answers; the dead one is left out')
  t.equal((await fetch(`${url}/healthz`)).status, 200, 'the primary lives on')
  const deadline = Date.now() + 10_000
  while (tracker.pids().includes(first as number) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
  t.notOk(tracker.pids().includes(first as number), 'and the shard is restarted')
})

t.test('connections per address are capped over all shards, not per shard', async (t) => {
  const cap = 3
  const tracker = await startClusterTracker(2)({ exemptLoopback: false, maxConnectionsPerAddress: cap })
  t.teardown(() => tracker.close())
  const base = tracker.wsUrl.replace(/\/announce$/, '')
  const inShard = (k: number) => {
    let id = hexId()
    while (shardOf(toBinaryId(id) as string, 2) !== k) id = hexId()
    return id
  }
  const [swarm0, swarm1] = [inShard(0), inShard(1)]
  const from = freshAddress()
  const open: PeerSocket[] = []
  t.teardown(() => Promise.all(open.map((p) => p.close())))
  const connect = async (swarm: string, address = from) => {
    const p = await connectPeer(`${base}/swarm/${swarm}`, { from: address })
    open.push(p)
    return p
  }
  const served = async (p: PeerSocket, swarm: string) => {
    p.send({ action: 'announce', info_hash: swarm, peer_id: hexId(), left: 0 })
    return p.next((f) => 'interval' in f || 'failure reason' in f)
  }
  const first = await connect(swarm0)
  t.match(await served(first, swarm0), { complete: 1 })
  t.match(await served(await connect(swarm0), swarm0), { complete: 2 })
  t.match(await served(await connect(swarm1), swarm1), { complete: 1 }, `${cap} sockets from one address over 2 shards`)
  const extra = await connect(swarm1)
  t.match(await extra.next(), { failure_code: 'too_many_connections' }, 'the next one is refused, though its shard holds only one from that address')
  t.equal((await closedWithin(extra)).code, 4503)
  t.match(await served(await connect(swarm1, freshAddress()), swarm1), { complete: 2 }, 'another address is served')
  const metrics = await (await fetch(`${tracker.httpUrl}/metrics`)).text()
  t.match(metrics, /^chorus_tracker_rejected_total\{code="too_many_connections"\} 1$/m, 'counted in /metrics')
  await first.close()
  let again: Frame | undefined
  for (let i = 0; i < 100 && !(again !== undefined && 'interval' in again); i++) {
    await new Promise((r) => setTimeout(r, 50))
    again = await served(await connect(swarm1), swarm1)
  }
  t.match(again, { interval: 120 }, 'a closed socket in one shard frees a slot in another')
})
