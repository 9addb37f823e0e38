// Issue 13: a connection that carries nothing this listener fetches, and moves no chunk, is closed
// after `idleMs` (core/peer-connections.ts), with the bye handshake; until then it stays for the
// next swarm. Two real networks (p2p/network.ts) over real WebRTC (@roamhq/wrtc) and a real tracker.

import wrtc from '@roamhq/wrtc'
import SimplePeer from 'simple-peer'
import t from 'tap'
import WebSocket from 'ws'
import { swarmInfoHash } from '../../protocol/index.js'
import { createTrackerServer } from '../../tracker/index.js'
import { type Network, createNetwork } from '../src/p2p/network.js'
import type { SwarmQuality } from '../src/p2p/peer-set.js'
import type { WebSocketConstructor } from '../src/p2p/tracker-client.js'
import { until } from './stack.js'

const quality: SwarmQuality = { trackId: 'idle', version: 'v1', bitrate: 160_000, chunkCount: 4, hashes: ['a', 'b', 'c', 'd'], chunkSize: 1024, byteLength: 4096 }

t.test('a connection left with nothing to fetch closes once idle', async (t) => {
  const tracker = createTrackerServer({})
  const { url } = await tracker.listen()
  t.teardown(() => tracker.close())
  const make = (idleMs: number): Network => {
    const network = createNetwork({
      tracker: `${url.replace(/^http/, 'ws')}/announce`,
      WebSocket: WebSocket as unknown as WebSocketConstructor,
      SimplePeer: SimplePeer as never,
      wrtc,
      connections: { idleMs },
    })
    t.teardown(() => network.close())
    return network
  }
  const holder = make(600_000)
  const seeker = make(300)
  const held = new Set([0, 1, 2, 3])
  await holder.join(quality, { held: () => held, get: async () => undefined }, () => 0)
  const peerSet = await seeker.join(quality, { held: () => new Set(), get: async () => undefined }, () => 4096)
  await until(() => peerSet.size === 1, 'the seeker to connect to the holder')
  t.equal(seeker.stats().connections, 1)

  // While it fetches there, the connection stays however quiet it is.
  await new Promise((r) => setTimeout(r, 1500))
  t.equal(seeker.stats().connections, 1, 'a connection carrying a swarm being fetched stays')

  seeker.leave(await swarmInfoHash(quality.trackId, quality.version, quality.bitrate))
  await until(() => seeker.stats().connections === 0, 'the idle connection to close')
  t.equal(seeker.stats().closedIdle, 1, 'closed as idle')
  await until(() => holder.stats().connections === 0, 'the holder to see it end (bye)')
})
