import t from 'tap'
import { type Action, type ChunkLayout, DEFAULT_SCHEDULER_CONFIG, createScheduler } from '../src/core/scheduler.js'
import { createSpeaker } from '../src/core/speaker.js'

// 60 chunks of 32 KiB, each 2 s of audio: a 2-minute track at 128 kbit/s.
const layout: ChunkLayout = { count: 60, size: () => 32768, startMs: (i) => i * 2000, durationMs: 120_000 }
const edgeIndices = (actions: Action[]) => actions.filter((a) => a.type === 'fetch-edge').map((a) => (a as { index: number }).index)
const peerRequests = (actions: Action[]) => actions.filter((a): a is Extract<Action, { type: 'request-peer' }> => a.type === 'request-peer')

t.test('the head comes from the edge at once, nothing from peers inside it', async (t) => {
  const s = createScheduler(layout, { ...DEFAULT_SCHEDULER_CONFIG, maxEdgeInFlight: 8 })
  s.addPeer(
    'p1',
    Array.from({ length: 60 }, (_, i) => i),
  )
  s.start(0)
  const actions = s.plan(0)
  // headSec 10 -> chunks 0..4 from the edge; peers get chunks past the head.
  t.same(edgeIndices(actions), [0, 1, 2, 3, 4])
  const peer = peerRequests(actions)
  t.ok(peer.length > 0 && peer.every((a) => a.index >= 5), 'peer requests start after the head')
  t.ok(peer.length <= DEFAULT_SCHEDULER_CONFIG.maxPeerInFlight, 'per-peer limit holds')
})

t.test('without peers, later chunks wait until they are urgent, then go to the edge', async (t) => {
  const s = createScheduler(layout)
  s.start(0)
  let now = 0
  const fetched = new Set<number>()
  for (const a of s.plan(now)) if (a.type === 'fetch-edge') fetched.add(a.index)
  for (const i of [...fetched]) s.received(i, 'edge', now)
  t.same(
    [...fetched].sort((a, b) => a - b),
    [0, 1, 2, 3],
  )
  // Playhead at 8 s: chunk 5 (10 s) is 2 s ahead (< urgentSec 4) and not fetched yet.
  now = 8000
  s.setPlayhead(8000)
  const actions = s.plan(now)
  t.ok(edgeIndices(actions).includes(5), 'an urgent chunk with no peer goes to the edge')
  t.notOk(edgeIndices(actions).includes(20), 'a far chunk is not fetched from the edge')
})

t.test('each chunk goes to the peer with the earliest expected completion', async (t) => {
  const s = createScheduler(layout, { ...DEFAULT_SCHEDULER_CONFIG, headSec: 0, urgentSec: 0, maxPeerInFlight: 2 })
  const all = Array.from({ length: 60 }, (_, i) => i)
  s.addPeer('slow', all)
  s.addPeer('fast', all)
  s.start(0)
  // Teach the scheduler the rates: fast delivers in 50 ms, slow in 2 s.
  let actions = s.plan(0)
  for (const a of peerRequests(actions)) s.received(a.index, 'peer', a.peer === 'fast' ? 50 : 2000)
  actions = s.plan(2000)
  const counts = { fast: 0, slow: 0 }
  for (const a of peerRequests(actions)) counts[a.peer as 'fast' | 'slow']++
  t.ok(counts.fast >= counts.slow, `fast gets at least as many (${counts.fast} vs ${counts.slow})`)
  t.equal(peerRequests(actions)[0]!.peer, 'fast', 'the first choice is the fast peer')
})

t.test('a late peer request is cancelled and re-sent to another peer, or to the edge when urgent', async (t) => {
  const cfg = { ...DEFAULT_SCHEDULER_CONFIG, headSec: 0, urgentSec: 4, maxPeerInFlight: 1, lookaheadSec: 12 }
  const s = createScheduler(layout, cfg)
  s.addPeer('a', [5])
  s.addPeer('b', [5])
  s.start(0)
  for (let i = 0; i < 5; i++) s.received(i, 'edge', 0)
  const first = peerRequests(s.plan(0)).find((a) => a.index === 5)!
  t.ok(first, 'chunk 5 requested from a peer')
  // The deadline passes: cancelled, and the other peer gets it.
  const later = s.plan(first.deadline + 1)
  t.ok(
    later.some((a) => a.type === 'cancel-peer' && a.index === 5 && a.peer === first.peer),
    'the late request is cancelled',
  )
  const retry = peerRequests(later).find((a) => a.index === 5)
  t.ok(retry && retry.peer !== first.peer, 're-sent to the other peer')
  // Now the playhead is close: chunk 5 (10 s) is 1 s ahead, urgent -> it goes to the edge.
  s.setPlayhead(9000)
  const urgent = s.plan(retry!.deadline + 1)
  t.ok(edgeIndices(urgent).includes(5), 'urgent and late: the edge')
})

t.test('a chunk a peer refused is not asked of that peer again', async (t) => {
  const cfg = { ...DEFAULT_SCHEDULER_CONFIG, headSec: 0, urgentSec: 4, maxPeerInFlight: 1, lookaheadSec: 12 }
  const s = createScheduler(layout, cfg)
  s.addPeer('a', [5])
  s.addPeer('b', [5])
  s.start(0)
  for (let i = 0; i < 5; i++) s.received(i, 'edge', 0)
  const first = peerRequests(s.plan(0)).find((a) => a.index === 5)!
  // Refused (a peer past its caps or its ratio, or choking us): the other peer gets it, and then nobody.
  s.peerLacks(first.peer, 5)
  s.failed(5)
  const second = peerRequests(s.plan(1)).find((a) => a.index === 5)!
  t.not(second.peer, first.peer, 'asked of the other peer')
  s.peerLacks(second.peer, 5)
  s.failed(5)
  t.notOk(
    peerRequests(s.plan(2)).some((a) => a.index === 5),
    'no request loop against peers that refuse',
  )
})

t.test('emergency: a low buffer stops uploading and takes everything from the edge until it recovers', async (t) => {
  const s = createScheduler(layout, { ...DEFAULT_SCHEDULER_CONFIG, headSec: 0, maxEdgeInFlight: 3 })
  s.addPeer(
    'p',
    Array.from({ length: 60 }, (_, i) => i),
  )
  s.start(0)
  s.received(0, 'edge', 0)
  // Playing, with only the first chunk (2 s) there and the playhead at 1 s: 1 s of buffer.
  s.setPlayhead(1000)
  const actions = s.plan(1000)
  t.ok(
    actions.some((a) => a.type === 'uploading' && a.allowed === false),
    'uploading stops',
  )
  t.ok(s.emergency)
  t.same(edgeIndices(actions), [1, 2, 3], 'nearest chunks from the edge, as many as the edge slots allow')
  for (let i = 1; i < 5; i++) s.received(i, 'edge', 1100)
  // 9 s buffered > recoverSec 6: back to normal, uploading again.
  const after = s.plan(1200)
  t.notOk(s.emergency)
  t.ok(after.some((a) => a.type === 'uploading' && a.allowed === true))
})

t.test('a removed peer gives its requests back', async (t) => {
  const s = createScheduler(layout, { ...DEFAULT_SCHEDULER_CONFIG, headSec: 0, urgentSec: 0, lowWaterSec: 0 })
  s.addPeer('p', [10, 11])
  s.start(0)
  const reqs = peerRequests(s.plan(0))
  t.same(reqs.map((r) => r.index).sort(), [10, 11])
  t.same(s.removePeer('p').sort(), [10, 11])
  t.notOk(s.isInflight(10))
})

t.test('speaker: start, stall at the exact moment the data runs out, resume, end', async (t) => {
  const sp = createSpeaker({ startMs: 0, durationMs: 10_000 })
  t.same(sp.update(100, 0), [])
  t.same(sp.update(200, 4000), [{ type: 'start', at: 200 }])
  // 5 s later only 4 s were there: the stall began at 4.2 s.
  t.same(sp.update(5200, 4000), [{ type: 'stall', at: 4200 }])
  t.same(sp.update(6000, 10_000), [{ type: 'resume', at: 6000, stalledMs: 1800 }])
  t.same(sp.update(20_000, 10_000), [{ type: 'end', at: 12_000 }])
  const st = sp.state()
  t.equal(st.stalls, 1)
  t.equal(st.stalledMs, 1800)
  t.equal(st.ended, true)
})

t.test('MP4: a start at a fragment inside a chunk fetches that chunk, though the seek table puts the playhead later', async (t) => {
  // 10 chunks; fragments start at chunk 0, 3 and (the last one) inside chunk 6: the seek table
  // gives chunks 6..9 the last fragment's time, so chunkAt(its time) is 9.
  const seek = [0, 5000, 5000, 5000, 11_000, 11_000, 11_000, 11_000, 11_000, 11_000]
  const fragmentOf = (i: number) => (i <= 3 ? 0 : i <= 6 ? 5000 : 11_000)
  const mp4: ChunkLayout = { count: 10, size: () => 32768, startMs: (i) => seek[i]!, playableUntilMs: (i) => fragmentOf(i), durationMs: 14_000 }
  const s = createScheduler(mp4, { ...DEFAULT_SCHEDULER_CONFIG, maxEdgeInFlight: 8 })
  t.equal(s.chunkAt(11_000), 9, 'the seek table alone names the last chunk')
  s.start(11_000, 6)
  s.setPlayhead(11_000)
  t.same(edgeIndices(s.plan(0)), [6, 7, 8, 9], "from the start point's chunk to the end, nothing before it")
  for (const i of [6, 8, 9]) s.received(i, 'edge', 10)
  t.equal(s.bufferAheadMs(), 0, 'chunk 7 missing: the fragment is not whole, nothing to play')
  t.same(edgeIndices(s.plan(20)), [], 'chunk 7 is still in flight')
  s.failed(7)
  t.same(edgeIndices(s.plan(30)), [7], "a failed chunk before the playhead's seek-table chunk is asked again")
  s.received(7, 'edge', 40)
  t.equal(s.bufferAheadMs(), 3000, 'then the rest of the track')

  // Without the chunk, as before: start(atMs) alone takes chunkAt(atMs) as the start.
  const mp3 = createScheduler(layout, { ...DEFAULT_SCHEDULER_CONFIG, maxEdgeInFlight: 8 })
  mp3.start(21_000)
  t.same(edgeIndices(mp3.plan(0)).slice(0, 2), [10, 11], 'an MP3 start: the chunk holding the time')
})

t.test('the buffer and the plan count from the first missing chunk: a playhead past it still gets it asked for', async (t) => {
  const s = createScheduler(layout, { ...DEFAULT_SCHEDULER_CONFIG, headSec: 0, p2p: false, maxEdgeInFlight: 2 })
  s.start(0)
  for (let i = 0; i < 3; i++) s.received(i, 'edge', 0)
  t.equal(s.bufferAheadMs(), 6000)
  // A page reports a position past what it was given (chunk 3 was never delivered).
  s.setPlayhead(9000)
  t.same(edgeIndices(s.plan(0)), [3, 4], 'the chunk the stream waits for comes first')
  t.equal(s.bufferAheadMs(), 0)
})
