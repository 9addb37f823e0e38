// bittorrent-tracker's own client (what WebTorrent uses) against this tracker, unchanged: it
// announces, gets replies and scrapes, and two clients connect over real WebRTC through it.

import wrtc from '@roamhq/wrtc'
import Client from 'bittorrent-tracker/client'
import t from 'tap'
import { hexId } from './helpers/peer-socket.js'
import { startNodeTracker } from './helpers/start-trackers.js'

t.test('two stock clients find each other and connect', async (t) => {
  const tracker = await startNodeTracker({})
  t.teardown(() => tracker.close())
  const infoHash = hexId()
  // Different URLs: the client pools one socket per URL, and two browsers would not share one.
  // No STUN servers: this machine is offline, and gathering would wait for them to time out.
  const rtcConfig = { iceServers: [] }
  const seed = new Client({ infoHash, peerId: hexId(), announce: [tracker.wsUrl], port: 6881, wrtc, rtcConfig, getAnnounceOpts: () => ({ left: 0 }) })
  const leech = new Client({ infoHash, peerId: hexId(), announce: [tracker.wsUrl.replace(/\/announce$/, '/')], port: 6882, wrtc, rtcConfig, getAnnounceOpts: () => ({ left: 1000 }) })
  const peers: Array<{ destroy(): void }> = []
  t.teardown(() => new Promise<void>((resolve) => seed.destroy(() => leech.destroy(() => resolve()))))
  t.teardown(() => {
    for (const p of peers) p.destroy()
  })
  for (const client of [seed, leech]) client.on('warning', (error: Error) => t.comment(`client warning: ${error.message}`))

  const seedUpdate = new Promise<Record<string, unknown>>((resolve) => seed.once('update', resolve))
  seed.start()
  t.match(await seedUpdate, { complete: 1, incomplete: 0, infoHash })

  const connected = (client: Client) =>
    new Promise<void>((resolve) =>
      client.once('peer', (peer: { once(event: string, fn: () => void): void; destroy(): void }) => {
        peers.push(peer)
        peer.once('connect', resolve)
      }),
    )
  const both = Promise.all([connected(seed), connected(leech)])
  const leechUpdate = new Promise<Record<string, unknown>>((resolve) => leech.once('update', resolve))
  leech.start()
  t.match(await leechUpdate, { complete: 1, incomplete: 1 })
  await both
  t.pass('the offer reached the seed, its answer the leech, and WebRTC connected')

  const scraped = new Promise<Record<string, unknown>>((resolve) => seed.once('scrape', resolve))
  seed.scrape()
  t.match(await scraped, { complete: 1, incomplete: 1, infoHash })
})
