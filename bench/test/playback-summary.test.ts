import t from 'tap'
import type { PlayRecord, SessionRecord } from '../playback/listener.js'
import { unservedByPeers } from '../playback/summary.js'

// The floor of the servers' share: edge bytes to plays whose track no other listener online at
// the play's start had played before. Values in, values out.
const play = (listener: number, trackId: string, atMs: number, wallMs: number, edge: number): PlayRecord => ({
  listener,
  session: 0,
  rank: 0,
  trackId,
  kind: 'cold',
  queued: false,
  habitual: false,
  atMs,
  ttfaMs: 50,
  rttMs: 30,
  edgeMiss: false,
  stalls: 0,
  stalledMs: 0,
  bytes: { cache: 0, peer: 0, edge },
  path: { session: null, head: null, manifest: null, key: null, chunk: null },
  firstPeerByteMs: null,
  peersConnected: 0,
  outcome: 'ended',
  wallMs,
})
const session = (listener: number, fromMs: number, onlineMs: number): SessionRecord => ({
  listener,
  session: 0,
  plays: 1,
  prefetchedPlays: 0,
  prefetchedBytes: 0,
  prefetchedBytesUnused: 0,
  attempts: 0,
  established: 0,
  failed: 0,
  uploadedBytes: 0,
  fromMs,
  onlineMs,
})

t.test('a play nobody online had played before is the servers’ alone', async (t) => {
  const plays = [play(1, 'a', 0, 1000, 100), play(2, 'a', 2000, 1000, 40), play(3, 'b', 2000, 1000, 70)]
  const sessions = [session(1, 0, 5000), session(2, 1500, 2000), session(3, 1500, 2000)]
  t.same(unservedByPeers(plays, sessions, 0), { bytes: 170, plays: 2 }, "listener 2's play of a had listener 1 online to serve it")
})

t.test('a holder that went offline serves nobody', async (t) => {
  const plays = [play(1, 'a', 0, 1000, 100), play(2, 'a', 3000, 1000, 40)]
  const sessions = [session(1, 0, 1500), session(2, 2500, 2000)]
  t.same(unservedByPeers(plays, sessions, 0), { bytes: 140, plays: 2 })
})

t.test('only the part of a play inside the window counts; plays with no audio are left out', async (t) => {
  const plays = [play(1, 'a', 0, 2000, 100), { ...play(2, 'c', 500, 100, 50), kind: null }]
  const sessions = [session(1, 0, 3000), session(2, 0, 3000)]
  t.same(unservedByPeers(plays, sessions, 1500), { bytes: 25, plays: 1 }, 'a quarter of the play is past 1.5 s')
  t.same(unservedByPeers(plays, sessions, 2500), { bytes: 0, plays: 0 }, 'over before the window')
})
