// The prefetch rules (src/core/prefetch-plan.ts), values in and out: when prefetching starts,
// which tracks, the byte budget, when the edge sends what peers did not, which chunks make a
// head and which peer is asked for which.

import t from 'tap'
import { DEFAULT_PREFETCH_RULES, type HeldPrefetch, type PrefetchSituation, headChunks, headRequests, prefetchPlan } from '../src/core/prefetch-plan.js'
import type { ChunkLayout } from '../src/core/scheduler.js'

const MiB = 1024 * 1024

function situation(over: Partial<PrefetchSituation<string>> & { holding?: Record<string, HeldPrefetch> } = {}): PrefetchSituation<string> {
  const { holding = {}, ...rest } = over
  return { started: true, remainingMs: 25_000, queue: ['a', 'b', 'c', 'd'], predict: () => ['x', 'y', 'z'], held: (id) => holding[id], ...rest }
}

t.test('nothing before the track has started or earlier than 30 s before its end', async (t) => {
  t.same(prefetchPlan(situation({ started: false })), [])
  t.same(prefetchPlan(situation({ remainingMs: 30_001 })), [])
  t.same(prefetchPlan(situation({ remainingMs: 30_000 })), [{ type: 'start', id: 'a', byteBudget: 4 * MiB }], 'at 30 s the first candidate gets the whole budget')
  t.same(prefetchPlan(situation(), { ...DEFAULT_PREFETCH_RULES, tracks: 0 }), [], 'prefetch off')
})

/** The rules with three candidates, as an app may ask (`prefetch: { tracks: 3 }`). */
const THREE = { ...DEFAULT_PREFETCH_RULES, tracks: 3 }

t.test('by default only the next track: the first of the queue, else of the habits', async (t) => {
  let asked = 0
  const predict = (n: number) => {
    asked = n
    return ['x', 'y']
  }
  t.same(prefetchPlan(situation({ holding: { a: { headBytes: MiB, complete: true } } })), [], 'the next one held: nothing more')
  t.same(prefetchPlan(situation({ queue: [], predict })), [{ type: 'start', id: 'x', byteBudget: 4 * MiB }])
  t.equal(asked, 1, 'habits asked for 1 track')
})

t.test('the queue first, else habits; the first not started gets what is left; loading ones are left alone', async (t) => {
  let asked = 0
  const predict = (n: number) => {
    asked = n
    return ['x', 'y']
  }
  t.same(prefetchPlan(situation({ predict }), THREE), [{ type: 'start', id: 'a', byteBudget: 4 * MiB }])
  t.equal(asked, 0, 'habits not asked while there is a queue')
  t.same(prefetchPlan(situation({ queue: [], predict }), THREE), [{ type: 'start', id: 'x', byteBudget: 4 * MiB }])
  t.equal(asked, 3, 'habits asked for 3 tracks')
  const holding: Record<string, HeldPrefetch> = { a: { headBytes: MiB, complete: false }, b: 'loading' }
  t.same(prefetchPlan(situation({ holding }), THREE), [{ type: 'start', id: 'c', byteBudget: 3 * MiB }], 'the budget less the heads under way')
  t.same(prefetchPlan(situation({ holding: { a: { headBytes: 4 * MiB, complete: false } } }), THREE), [], 'the budget spent: nothing more')
  t.same(
    prefetchPlan(situation({ holding: { a: { headBytes: MiB, complete: true }, b: { headBytes: MiB, complete: true }, c: { headBytes: MiB, complete: true } } }), THREE),
    [],
    'only 3 tracks: d waits',
  )
})

t.test('10 s before the end, the next head not complete goes to the edge; later ones wait until they are next', async (t) => {
  const holding: Record<string, HeldPrefetch> = { a: { headBytes: MiB, complete: false }, b: { headBytes: MiB, complete: true }, c: { headBytes: MiB, complete: false } }
  t.same(prefetchPlan(situation({ holding, remainingMs: 10_001 }), THREE), [])
  t.same(prefetchPlan(situation({ holding, remainingMs: 10_000 }), THREE), [{ type: 'edge', id: 'a' }], 'only the next: c is left to peers')
  t.same(
    prefetchPlan(situation({ holding, queue: ['c', 'd'], remainingMs: 10_000 }), THREE),
    [
      { type: 'edge', id: 'c' },
      { type: 'start', id: 'd', byteBudget: 3 * MiB },
    ],
    'c, once next, is completed from the edge (and d starts from peers)',
  )
  t.same(prefetchPlan(situation({ holding: { ...holding, a: { headBytes: MiB, complete: true } }, remainingMs: 10_000 }), THREE), [], 'the next complete: nothing from the edge')
  t.same(
    prefetchPlan(situation({ holding, remainingMs: 10_000 }), { ...THREE, edgeTracks: 3 }),
    [
      { type: 'edge', id: 'a' },
      { type: 'edge', id: 'c' },
    ],
    'edgeTracks: 3 completes every candidate, in order',
  )
  const over: Record<string, HeldPrefetch> = { a: { headBytes: 5 * MiB, complete: true }, c: { headBytes: MiB, complete: false } }
  t.same(prefetchPlan(situation({ holding: over, remainingMs: 5_000 }), THREE), [], 'a candidate not started with no budget ends the look: c comes after b')
})

// 10 chunks of 1000 bytes, 4 s of audio each but the last (500 bytes).
const layout: ChunkLayout = { count: 10, size: (i) => (i === 9 ? 500 : 1000), startMs: (i) => i * 4000, durationMs: 38_000 }

t.test('a head: the chunks needed before headSec, while the budget lasts', async (t) => {
  t.same(headChunks(layout, 10, 1e9), [0, 1, 2], 'chunks starting before 10 s')
  t.same(headChunks(layout, 12, 1e9), [0, 1, 2], 'a chunk starting at 12 s is not needed before 12 s')
  t.same(headChunks(layout, 10, 2500), [0, 1], 'the budget')
  t.same(headChunks(layout, 10, 999), [])
  t.same(headChunks(layout, 100, 1e9), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
  const mp4 = { ...layout, playableUntilMs: (i: number) => Math.floor(i / 3) * 12_000 }
  t.same(headChunks(mp4, 10, 1e9), [0, 1, 2], 'by when a chunk is needed (its fragment), not the seek table')
  t.same(headChunks(mp4, 13, 1e9), [0, 1, 2, 3, 4, 5])
})

t.test('head chunks: each to the first peer holding it with fewer than 4 outstanding', async (t) => {
  const holds = (p: string, i: number) => (p === 'p' ? i < 6 : true)
  t.same(headRequests({ missing: [0, 1, 2, 3, 4, 5, 6], asked: new Map(), peers: ['p', 'q'], holds }), [
    { index: 0, peer: 'p' },
    { index: 1, peer: 'p' },
    { index: 2, peer: 'p' },
    { index: 3, peer: 'p' },
    { index: 4, peer: 'q' },
    { index: 5, peer: 'q' },
    { index: 6, peer: 'q' },
  ])
  t.same(
    headRequests({ missing: [0, 1, 2], asked: new Map([[0, 'p']]), peers: ['p', 'q'], holds }, { perPeer: 1 }),
    [{ index: 1, peer: 'q' }],
    'asked chunks are not asked again and count against their peer; nobody left for 2',
  )
  t.same(headRequests({ missing: [7], asked: new Map(), peers: ['p'], holds }), [], 'nobody holds it')
})
