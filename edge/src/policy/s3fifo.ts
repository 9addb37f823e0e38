/**
 * S3-FIFO (Yang et al., SOSP'23), byte-aware.
 *
 * Three FIFO queues: a small one (S, ~10 % of the bytes) where new objects
 * land, a main one (M, the rest), and a ghost queue (G) of keys only.
 * Most objects in a cache trace are requested once ("one-hit wonders"); S
 * lets them leave quickly without disturbing M:
 * - a hit bumps a frequency counter capped at 3, nothing moves;
 * - at S's tail, an object hit at least once (freq >= promoteAt) moves to M,
 *   otherwise it is evicted and its key remembered in G;
 * - at M's tail, an object with freq > 0 is reinserted at M's head with
 *   freq - 1 (FIFO-reinsertion), otherwise it is evicted;
 * - a miss whose key is in G goes straight to M: it came back soon enough.
 * G holds about as many bytes of keys as M holds of objects.
 */
import { LinkedList } from './linked-list.js'
import { HIT, REJECTED, stored } from './access-result.js'
import { checkCapacity, checkSize } from './checks.js'
import type { AccessResult, EvictionPolicy } from './types.js'

const MAX_FREQ = 3

export interface S3FifoOptions {
  /** Share of the bytes for the small queue; the paper's 10 % by default. */
  smallRatio?: number
  /** Hits needed in S to move to M at S's tail (1: "accessed at least once"). */
  promoteAt?: number
}

interface Entry {
  readonly key: string
  size: number
  freq: number
  inMain: boolean
  prev: Entry | null
  next: Entry | null
}

interface Ghost {
  readonly key: string
  size: number
  prev: Ghost | null
  next: Ghost | null
}

class S3Fifo implements EvictionPolicy {
  readonly name = 's3fifo' as const
  readonly capacityBytes: number
  readonly #smallTarget: number
  readonly #ghostCapacity: number
  readonly #promoteAt: number
  readonly #index = new Map<string, Entry>()
  readonly #small = new LinkedList<Entry>()
  readonly #main = new LinkedList<Entry>()
  readonly #ghostIndex = new Map<string, Ghost>()
  readonly #ghost = new LinkedList<Ghost>()

  constructor(capacityBytes: number, options: S3FifoOptions = {}) {
    this.capacityBytes = checkCapacity(capacityBytes)
    const ratio = options.smallRatio ?? 0.1
    if (typeof ratio !== 'number' || !(ratio > 0 && ratio < 1)) {
      throw new TypeError(`smallRatio must be a number between 0 and 1, got ${String(ratio)}`)
    }
    const promoteAt = options.promoteAt ?? 1
    if (!Number.isInteger(promoteAt) || promoteAt < 1 || promoteAt > MAX_FREQ) {
      throw new TypeError(`promoteAt must be an integer from 1 to ${MAX_FREQ}, got ${String(promoteAt)}`)
    }
    this.#smallTarget = capacityBytes * ratio
    this.#ghostCapacity = Math.max(1, capacityBytes - this.#smallTarget)
    this.#promoteAt = promoteAt
  }

  get bytes(): number {
    return this.#small.bytes + this.#main.bytes
  }
  get count(): number {
    return this.#small.count + this.#main.count
  }

  access(key: string, size: number): AccessResult {
    checkSize(size)
    const found = this.#index.get(key)
    if (found !== undefined) {
      if (found.size === size) {
        if (found.freq < MAX_FREQ) found.freq++
        return HIT
      }
      this.#drop(found)
    }
    if (size > this.capacityBytes) return REJECTED
    // Look in G before evicting: the evictions below push keys into G and
    // could push this one out.
    const ghost = this.#ghostIndex.get(key)
    if (ghost !== undefined) this.#forgetGhost(ghost)
    const evicted: string[] = []
    while (this.bytes + size > this.capacityBytes && this.count > 0) {
      this.#evictOne(evicted)
    }
    const entry: Entry = { key, size, freq: 0, inMain: ghost !== undefined, prev: null, next: null }
    this.#index.set(key, entry)
    if (entry.inMain) this.#main.pushHead(entry)
    else this.#small.pushHead(entry)
    return stored(evicted)
  }

  #evictOne(evicted: string[]): void {
    if ((this.#small.bytes >= this.#smallTarget && this.#small.count > 0) || this.#main.count === 0) {
      this.#evictSmall(evicted)
    } else {
      this.#evictMain(evicted)
    }
  }

  // Ends after one eviction, or when S is empty because everything in it was
  // promoted; the caller's loop then evicts from M.
  #evictSmall(evicted: string[]): void {
    for (let node = this.#small.popTail(); node !== null; node = this.#small.popTail()) {
      if (node.freq >= this.#promoteAt) {
        node.freq = 0
        node.inMain = true
        this.#main.pushHead(node)
        continue
      }
      this.#index.delete(node.key)
      this.#remember(node.key, node.size)
      evicted.push(node.key)
      return
    }
  }

  #evictMain(evicted: string[]): void {
    for (let node = this.#main.popTail(); node !== null; node = this.#main.popTail()) {
      if (node.freq > 0) {
        node.freq--
        this.#main.pushHead(node)
        continue
      }
      this.#index.delete(node.key)
      evicted.push(node.key)
      return
    }
  }

  #remember(key: string, size: number): void {
    // Ghosts are counted at least one byte each so zero-byte objects cannot
    // grow G without bound.
    const ghost: Ghost = { key, size: Math.max(1, size), prev: null, next: null }
    this.#ghostIndex.set(key, ghost)
    this.#ghost.pushHead(ghost)
    while (this.#ghost.bytes > this.#ghostCapacity) {
      const old = this.#ghost.popTail()
      if (old === null) break
      this.#ghostIndex.delete(old.key)
    }
  }

  #forgetGhost(ghost: Ghost): void {
    this.#ghostIndex.delete(ghost.key)
    this.#ghost.unlink(ghost)
  }

  #drop(entry: Entry): void {
    this.#index.delete(entry.key)
    if (entry.inMain) this.#main.unlink(entry)
    else this.#small.unlink(entry)
  }

  has(key: string): boolean {
    return this.#index.has(key)
  }

  remove(key: string): boolean {
    const ghost = this.#ghostIndex.get(key)
    if (ghost !== undefined) this.#forgetGhost(ghost)
    const entry = this.#index.get(key)
    if (entry === undefined) return false
    this.#drop(entry)
    return true
  }

  keys(): IterableIterator<string> {
    return this.#index.keys()
  }

  /** Where a key is, for tests and diagnostics. */
  where(key: string): 'small' | 'main' | 'ghost' | undefined {
    const entry = this.#index.get(key)
    if (entry !== undefined) return entry.inMain ? 'main' : 'small'
    return this.#ghostIndex.has(key) ? 'ghost' : undefined
  }
}

export interface S3FifoPolicy extends EvictionPolicy {
  where(key: string): 'small' | 'main' | 'ghost' | undefined
}

export function createS3Fifo(capacityBytes: number, options: S3FifoOptions = {}): S3FifoPolicy {
  return new S3Fifo(capacityBytes, options)
}
