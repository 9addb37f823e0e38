/**
 * What a link takes from a remote's `piece` messages, as a pure core (the caller passes the
 * time): only fragments of chunks this side requested from that remote and has not had yet,
 * framed exactly as the protocol frames them (`pieceMessages`: fragments of PIECE_FRAGMENT bytes
 * at offsets that are multiples of it, the last one shorter), with the chunk's real length from
 * the signed manifest as `total`. Anything else is a protocol violation and the caller drops the
 * peer. Memory is therefore bounded by what this side asked for: a remote cannot make it allocate
 * a buffer by naming a chunk or a length.
 *
 * Fragments of a chunk this side cancelled (or the remote refused, or that just arrived whole)
 * may still be on the wire: they are dropped without a buffer for `graceMs` ("late"), not
 * counted against the remote.
 */
export interface PieceIntakeOptions {
  /** The real length of chunk `index` (from the manifest); undefined when there is no such chunk. */
  lengthOf(index: number): number | undefined
  /** The fragment size senders use (protocol's PIECE_FRAGMENT). */
  fragment: number
  /** How long fragments of a cancelled or completed chunk are dropped quietly. */
  graceMs?: number
  /** Cancelled/completed chunks remembered for the grace at most (oldest forgotten first). */
  maxGrace?: number
}

interface PieceFragment {
  index: number
  offset: number
  total: number
  data: Uint8Array
}

type PieceOutcome = { type: 'partial' } | { type: 'chunk'; bytes: Uint8Array } | { type: 'late' } | { type: 'violation'; reason: string }

interface Assembly {
  buf: Uint8Array | undefined
  /** One flag per fragment slot: a repeated fragment is not counted twice. */
  got: Uint8Array | undefined
  missing: number
}

/** One link's intake of pieces. */
export interface PieceIntake {
  /** This side sent `request` for `index` (again: a request already outstanding is kept as it is); false when the chunk does not exist. */
  requested(index: number): boolean
  /** This side cancelled `index`, or the remote refused it: nothing more is expected, late fragments are dropped. */
  cancelled(index: number, now: number): void
  /** One piece message: a fragment kept (`partial`), the whole chunk (`chunk`), a late one dropped, or a `violation`. */
  add(m: PieceFragment, now: number): PieceOutcome
  /** Chunks requested and not yet here. */
  readonly outstanding: number
  /** Bytes held for chunks being assembled. */
  readonly bufferedBytes: number
  /** Forgets everything expected and every grace. */
  clear(): void
}

export function createPieceIntake(options: PieceIntakeOptions): PieceIntake {
  const { fragment } = options
  const graceMs = options.graceMs ?? 30_000
  const maxGrace = options.maxGrace ?? 256
  const expected = new Map<number, Assembly>()
  /** index -> until when its late fragments are dropped quietly. Insertion order is age. */
  const grace = new Map<number, number>()

  function toGrace(index: number, now: number): void {
    grace.delete(index)
    grace.set(index, now + graceMs)
    while (grace.size > maxGrace) grace.delete(grace.keys().next().value!)
  }

  function inGrace(index: number, now: number): boolean {
    const until = grace.get(index)
    if (until === undefined) return false
    if (until > now) return true
    grace.delete(index)
    return false
  }

  return {
    requested(index) {
      const length = options.lengthOf(index)
      if (length === undefined) return false
      if (!expected.has(index)) expected.set(index, { buf: undefined, got: undefined, missing: Math.max(1, Math.ceil(length / fragment)) })
      return true
    },
    cancelled(index, now) {
      if (expected.delete(index) || grace.has(index)) toGrace(index, now)
    },
    add(m, now) {
      const a = expected.get(m.index)
      if (!a) {
        if (inGrace(m.index, now)) return { type: 'late' }
        return { type: 'violation', reason: `piece of chunk ${m.index}, which was not requested from this peer` }
      }
      const length = options.lengthOf(m.index)!
      if (m.total !== length) return { type: 'violation', reason: `piece of chunk ${m.index} claims ${m.total} bytes; the chunk has ${length}` }
      const slot = m.offset / fragment
      const size = Math.min(fragment, length - m.offset)
      if (!Number.isInteger(slot) || m.offset >= Math.max(1, length) || m.data.length !== size) {
        return { type: 'violation', reason: `piece of chunk ${m.index} is not a fragment of it (offset ${m.offset}, ${m.data.length} bytes)` }
      }
      a.buf ??= new Uint8Array(length)
      a.got ??= new Uint8Array(a.missing)
      if (!a.got[slot]) {
        a.got[slot] = 1
        a.missing--
        a.buf.set(m.data, m.offset)
      }
      if (a.missing > 0) return { type: 'partial' }
      expected.delete(m.index)
      toGrace(m.index, now)
      return { type: 'chunk', bytes: a.buf }
    },
    get outstanding() {
      return expected.size
    },
    get bufferedBytes() {
      let n = 0
      for (const a of expected.values()) n += a.buf?.byteLength ?? 0
      return n
    },
    clear() {
      expected.clear()
      grace.clear()
    },
  }
}
