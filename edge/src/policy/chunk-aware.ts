/**
 * A policy that knows how songs are played (Chorus's own).
 *
 * Chunks (`/v1/chunks/{track}/{version}/{bitrate}/{index}`) are ranked by
 * when they will next be asked for, as estimated by the play model
 * (play-model.ts): a track's popularity (plays counted per stream, not per
 * chunk: track-grouped), how far into the track the chunk is against the
 * stop points seen (a head is worth more than a tail), and the plays in
 * progress behind it (chunk i + 1 follows chunk i within a gap or so).
 *
 * - Eviction: the chunk expected to be needed last, per byte, among 16
 *   drawn at random (seeded, so runs repeat): O(1) per eviction, the
 *   sampling of Redis and of LHD (Beckmann et al., NSDI'18), which lets the
 *   ranks move with every request without a heap to keep in order.
 * - Admission: a missed chunk is cached only if it is worth more than what
 *   it would push out (Belady's OPT declines to cache too): a chunk of a
 *   track played once does not displace the head of a hit.
 * - Read-ahead: an insert marked `readAhead` is not a request: it counts for
 *   no play and no popularity, and until a client asks for it, it is the
 *   cheapest thing in the cache: once its play has gone quiet (no request for
 *   8 gaps) it is evicted before anything else. While the play is still
 *   going, the chunk is valued like any other (it is about to be asked for).
 * - Other keys (manifests, anything not a chunk path) are kept by a
 *   W-TinyLFU (tinylfu-core.ts) inside the same byte budget: on traffic with
 *   no chunk the policy is W-TinyLFU, decision for decision. When chunks and
 *   other keys compete for room, the worst of 16 drawn chunks meets the
 *   worst of the 16 next in W-TinyLFU's line, each other key's next use
 *   estimated from its own request rate (play-model.ts), and the one
 *   expected later per byte goes.
 *
 * O(1) amortised per request: a key parse, two map lookups, at most 8
 * cursors, 4 sketch cells, and per eviction 16 estimates of at most 8
 * cursors each (and 16 rate lookups when other keys compete).
 */
import { seeded } from '../../../protocol/index.js'
import { HIT, REJECTED, stored } from './access-result.js'
import { checkCapacity, checkSize } from './checks.js'
import { chunkIndexOf, streamOf } from './chunk-key.js'
import { hashKey } from './hash.js'
import { LinkedList } from './linked-list.js'
import { PlayModel } from './play-model.js'
import type { Stream } from './play-model.js'
import { checkTinyLfuOptions, TinyLfuCore } from './tinylfu-core.js'
import type { TinyLfuEntry, WTinyLfuOptions } from './tinylfu-core.js'
import type { AccessResult, EvictionPolicy } from './types.js'

export interface ChunkAwareOptions {
  /** Chunks drawn to choose a victim; default 16. */
  samples?: number
  /** Seed of the draws; default 1. */
  seed?: number
  /** For the W-TinyLFU that keeps the keys other than chunks. */
  tinyLfu?: WTinyLfuOptions
}

interface ChunkAwareStats {
  /** Expected-next-use estimates made so far (the unit of work of an eviction). */
  readonly estimates: number
  /** Streams the play model remembers. */
  readonly streams: number
  /** Cached read-aheads nobody has asked for yet. */
  readonly pendingReadAheads: number
  /** Mean chunk requests between two requests of one play. */
  readonly gap: number
}

export interface ChunkAwarePolicy extends EvictionPolicy {
  /** Requests until this cached (or not) chunk is expected again; undefined for other keys. */
  expectedNextUse(key: string): number | undefined
  /** True while the key is a read-ahead no client has asked for. */
  isPendingReadAhead(key: string): boolean
  stats(): ChunkAwareStats
}

interface ChunkEntry {
  readonly key: string
  readonly size: number
  readonly stream: Stream
  readonly index: number
  slot: number
  readAhead: boolean
  insertedAt: number
  prev: ChunkEntry | null
  next: ChunkEntry | null
}

const MAX_SAMPLES = 256

/**
 * Other keys' expected next use is a bare rate (requests over the history);
 * chunks' also know their position and the plays under way. Counted as is,
 * the bare rates kept 16 % of the bytes in manifests on the mixed-size chunk
 * workload at 1 % of the working set and cost 0.9 point of miss ratio; a
 * factor of 2 against them keeps about 9 % and most of that point
 * (bench/cache-policy, chunks-mixed). An empirical calibration, stated as such.
 */
const OTHER_KEYS_DISCOUNT = 2

function weight(size: number): number {
  return size + 1
}

class ChunkAware implements ChunkAwarePolicy {
  readonly name = 'chunk-aware' as const
  readonly capacityBytes: number
  readonly #chunks = new Map<string, ChunkEntry>()
  readonly #pool: ChunkEntry[] = []
  readonly #readAheads = new LinkedList<ChunkEntry>()
  readonly #model = new PlayModel()
  readonly #plain: TinyLfuCore
  readonly #samples: number
  readonly #line: TinyLfuEntry[] = []
  #chunkBytes = 0
  /** The policy's own seeded draws (mulberry32), so a run repeats. */
  readonly #random: () => number
  #estimates = 0
  #victimWorth = 0

  constructor(capacityBytes: number, options: ChunkAwareOptions) {
    this.capacityBytes = checkCapacity(capacityBytes)
    const samples = options.samples ?? 16
    if (!Number.isInteger(samples) || samples < 1 || samples > MAX_SAMPLES) {
      throw new TypeError(`samples must be an integer from 1 to ${MAX_SAMPLES}, got ${String(samples)}`)
    }
    const seed = options.seed ?? 1
    if (!Number.isInteger(seed)) throw new TypeError(`seed must be an integer, got ${String(seed)}`)
    this.#samples = samples
    this.#random = seeded(seed)
    this.#plain = new TinyLfuCore(capacityBytes, checkTinyLfuOptions(options.tinyLfu ?? {}))
  }

  get bytes(): number {
    return this.#chunkBytes + this.#plain.bytes
  }
  get count(): number {
    return this.#chunks.size + this.#plain.count
  }

  access(key: string, size: number, readAhead = false): AccessResult {
    checkSize(size)
    const index = chunkIndexOf(key)
    return index < 0 ? this.#accessPlain(key, size) : this.#accessChunk(key, index, size, readAhead)
  }

  #accessChunk(key: string, index: number, size: number, readAhead: boolean): AccessResult {
    const model = this.#model
    const found = this.#chunks.get(key)
    const stream = found?.stream ?? model.stream(streamOf(key))
    if (!readAhead) model.observe(stream, index)
    if (found !== undefined) {
      if (found.size === size) {
        if (!readAhead && found.readAhead) {
          found.readAhead = false
          this.#readAheads.unlink(found)
        }
        return HIT
      }
      this.#dropChunk(found)
    }
    if (size > this.capacityBytes) return REJECTED
    model.ensureCapacity(this.count + 1)
    const evicted: string[] = []
    if (this.bytes + size > this.capacityBytes) {
      const worth = this.#estimate(stream, index) * weight(size)
      if (!this.#makeRoom(size, worth, evicted)) {
        return evicted.length === 0 ? REJECTED : { hit: false, stored: false, evicted }
      }
    }
    const entry: ChunkEntry = { key, size, stream, index, slot: this.#pool.length, readAhead, insertedAt: model.clock, prev: null, next: null }
    this.#chunks.set(key, entry)
    this.#pool.push(entry)
    this.#chunkBytes += size
    model.retain(stream)
    if (readAhead) this.#readAheads.pushHead(entry)
    return stored(evicted)
  }

  /** Evicts until `size` more bytes fit, unless what would go is worth more than `worth`. */
  #makeRoom(size: number, worth: number, evicted: string[]): boolean {
    const plain = this.#plain
    while (this.bytes + size > this.capacityBytes) {
      if (this.#evictStaleReadAhead(evicted)) continue
      const chunk = this.#chunkVictim()
      const chunkWorth = this.#victimWorth
      const other = this.#plainVictim()
      const otherWorth = this.#victimWorth
      if (chunk !== null && chunkWorth >= otherWorth) {
        if (chunkWorth <= worth) return false
        this.#evictChunk(chunk, evicted)
      } else if (other !== null) {
        if (otherWorth <= worth) return false
        plain.evict(other, evicted)
      } else {
        return false
      }
    }
    return true
  }

  #accessPlain(key: string, size: number): AccessResult {
    const plain = this.#plain
    const found = plain.get(key)
    const hash = found?.hash ?? hashKey(key)
    plain.sketch.increment(hash)
    this.#model.observeObject(hash)
    if (found !== undefined) {
      if (found.size === size) {
        plain.hit(found)
        return HIT
      }
      plain.remove(key)
    }
    plain.miss()
    if (size > this.capacityBytes) return REJECTED
    const evicted: string[] = []
    // Chunks give way when they are expected later than the W-TinyLFU's own
    // victim, or when what they leave cannot hold the newcomer; otherwise
    // the W-TinyLFU makes room among its own entries, duels and all.
    while (this.bytes + size > this.capacityBytes && this.#pool.length > 0) {
      if (this.#evictStaleReadAhead(evicted)) continue
      const chunk = this.#chunkVictim() as ChunkEntry
      const chunkWorth = this.#victimWorth
      const other = this.#plainVictim()
      if (this.capacityBytes - this.#chunkBytes < size || other === null || chunkWorth >= this.#victimWorth) {
        this.#evictChunk(chunk, evicted)
      } else {
        break
      }
    }
    plain.limit = this.capacityBytes - this.#chunkBytes
    plain.insert(key, hash, size, evicted)
    return stored(evicted)
  }

  #evictStaleReadAhead(evicted: string[]): boolean {
    const oldest = this.#readAheads.tail
    if (oldest === null || this.#model.clock - oldest.insertedAt <= this.#model.staleAfter) return false
    this.#evictChunk(oldest, evicted)
    return true
  }

  /** The chunk expected to be needed last (per byte) among a few drawn at random; sets #victimWorth. */
  #chunkVictim(): ChunkEntry | null {
    const pool = this.#pool
    if (pool.length === 0) {
      this.#victimWorth = -1
      return null
    }
    const draws = Math.min(this.#samples, pool.length)
    let victim = pool[0] as ChunkEntry
    let most = -1
    for (let k = 0; k < draws; k++) {
      const entry = (draws === pool.length ? pool[k] : pool[this.#draw(pool.length)]) as ChunkEntry
      const worth = this.#estimate(entry.stream, entry.index) * weight(entry.size)
      if (worth > most) {
        most = worth
        victim = entry
      }
    }
    this.#victimWorth = most
    return victim
  }

  /** The W-TinyLFU entry expected last (per byte) among the next 16 in its line; sets #victimWorth. */
  #plainVictim(): TinyLfuEntry | null {
    const line = this.#line
    this.#plain.nextInLine(this.#samples, line)
    let victim: TinyLfuEntry | null = null
    let most = -1
    for (const entry of line) {
      const worth = this.#plainWorth(entry)
      if (worth > most) {
        most = worth
        victim = entry
      }
    }
    line.length = 0
    this.#victimWorth = most
    return victim
  }

  /** A W-TinyLFU entry's expected next use per byte, in the play model's clock (see OTHER_KEYS_DISCOUNT). */
  #plainWorth(entry: TinyLfuEntry): number {
    return this.#model.objectNextUse(entry.hash) * OTHER_KEYS_DISCOUNT * weight(entry.size)
  }

  #estimate(stream: Stream, index: number): number {
    this.#estimates++
    return this.#model.expectedNextUse(stream, index)
  }

  /** A uniform integer below `n`. */
  #draw(n: number): number {
    return Math.floor(this.#random() * n)
  }

  #evictChunk(entry: ChunkEntry, evicted: string[]): void {
    this.#dropChunk(entry)
    evicted.push(entry.key)
  }

  #dropChunk(entry: ChunkEntry): void {
    this.#chunks.delete(entry.key)
    const pool = this.#pool
    const last = pool.pop() as ChunkEntry
    if (last !== entry) {
      pool[entry.slot] = last
      last.slot = entry.slot
    }
    this.#chunkBytes -= entry.size
    if (entry.readAhead) this.#readAheads.unlink(entry)
    this.#model.release(entry.stream)
  }

  has(key: string): boolean {
    return this.#chunks.has(key) || this.#plain.has(key)
  }

  remove(key: string): boolean {
    const entry = this.#chunks.get(key)
    if (entry !== undefined) {
      this.#dropChunk(entry)
      return true
    }
    return this.#plain.remove(key)
  }

  *keys(): IterableIterator<string> {
    yield* this.#chunks.keys()
    yield* this.#plain.keys()
  }

  expectedNextUse(key: string): number | undefined {
    const index = chunkIndexOf(key)
    if (index < 0) return undefined
    const stream = this.#chunks.get(key)?.stream ?? this.#model.stream(streamOf(key))
    return this.#model.expectedNextUse(stream, index)
  }

  isPendingReadAhead(key: string): boolean {
    return this.#chunks.get(key)?.readAhead === true
  }

  stats(): ChunkAwareStats {
    return {
      estimates: this.#estimates,
      streams: this.#model.streams,
      pendingReadAheads: this.#readAheads.count,
      gap: this.#model.gap,
    }
  }
}

export function createChunkAware(capacityBytes: number, options: ChunkAwareOptions = {}): ChunkAwarePolicy {
  return new ChunkAware(capacityBytes, options)
}
