// The piece intake core (src/core/piece-intake.ts): only chunks asked for, at their real length,
// framed as the protocol frames them; late fragments of cancelled chunks are dropped quietly.

import t from 'tap'
import { PIECE_FRAGMENT, pieceMessages } from '../../protocol/index.js'
import { createPieceIntake } from '../src/core/piece-intake.js'

const lengths = [40_000, 40_000, 1_000]
const intake = () => createPieceIntake({ lengthOf: (i) => lengths[i], fragment: PIECE_FRAGMENT, graceMs: 1000 })
const fragments = (index: number, length = lengths[index]!) => pieceMessages(index, new Uint8Array(length).fill(index + 1)) as Array<{ index: number; offset: number; total: number; data: Uint8Array }>

t.test('a requested chunk is assembled from its fragments, in any order, repeats ignored', async (t) => {
  const p = intake()
  t.ok(p.requested(0))
  const parts = fragments(0)
  t.equal(parts.length, 3)
  t.same(p.add(parts[2]!, 0), { type: 'partial' })
  t.same(p.add(parts[2]!, 0), { type: 'partial' }, 'a repeated fragment does not count twice')
  t.same(p.add(parts[0]!, 0), { type: 'partial' })
  t.equal(p.bufferedBytes, 40_000, 'one buffer, of the real length')
  const out = p.add(parts[1]!, 0)
  t.equal(out.type, 'chunk')
  t.ok(out.type === 'chunk' && out.bytes.every((b) => b === 1))
  t.equal(p.outstanding, 0)
  t.same(p.add(parts[1]!, 10), { type: 'late' }, 'a late copy of a chunk just assembled is dropped quietly')
})

t.test('what is not asked for, or not of its real length or framing, is a violation, and allocates nothing', async (t) => {
  const p = intake()
  t.match(p.add({ index: 1, offset: 0, total: 4 * 1024 * 1024, data: new Uint8Array(0) }, 0), { type: 'violation', reason: /not requested/ })
  t.equal(p.bufferedBytes, 0)
  p.requested(1)
  t.match(p.add({ index: 1, offset: 0, total: 4 * 1024 * 1024, data: new Uint8Array(10) }, 0), { type: 'violation', reason: /claims 4194304 bytes; the chunk has 40000/ })
  t.match(p.add({ index: 1, offset: 100, total: 40_000, data: new Uint8Array(10) }, 0), { type: 'violation', reason: /not a fragment/ }, 'an offset off the fragment grid')
  t.match(p.add({ index: 1, offset: 0, total: 40_000, data: new Uint8Array(10) }, 0), { type: 'violation', reason: /not a fragment/ }, 'a short fragment that is not the last')
  t.match(p.add({ index: 1, offset: 3 * PIECE_FRAGMENT, total: 40_000, data: new Uint8Array(0) }, 0), { type: 'violation' }, 'past the end')
  t.equal(p.bufferedBytes, 0, 'no buffer for any of them')
  t.notOk(p.requested(7), 'a chunk the quality does not have cannot be requested')
})

t.test('after a cancel (or a reject), late fragments are dropped for the grace, then are violations again', async (t) => {
  const p = intake()
  p.requested(0)
  const parts = fragments(0)
  p.add(parts[0]!, 0)
  p.cancelled(0, 0)
  t.equal(p.bufferedBytes, 0, 'the partial buffer is let go')
  t.same(p.add(parts[1]!, 500), { type: 'late' })
  t.match(p.add(parts[2]!, 1500), { type: 'violation' }, 'past the grace')
  // Asked again: the chunk is expected afresh.
  p.requested(2)
  t.equal(p.add(fragments(2)[0]!, 2000).type, 'chunk')
})
