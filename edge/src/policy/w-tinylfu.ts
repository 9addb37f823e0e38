/**
 * W-TinyLFU (Einziger, Friedman and Manes, "TinyLFU: A Highly Efficient
 * Cache Admission Policy", ACM TOS 2017), as Caffeine runs it, byte-aware.
 *
 * - Window: an LRU of about 1 % of the bytes where every new object lands;
 *   it absorbs bursts (an object requested a few times in a row is served
 *   from here without having to prove itself).
 * - Main: a segmented LRU, probation (20 %) and protected (80 %). An object
 *   hit in probation moves to protected, whose oldest entries fall back to
 *   probation when it is over its share.
 * - Admission: an object leaving the window is a candidate for main. While
 *   the cache is over capacity it duels main's victim (probation's oldest,
 *   or protected's when probation is empty): the one the frequency sketch
 *   (frequency-sketch.ts, aged by halving) says was requested more often
 *   recently stays; a tie keeps the victim, so a scan of new keys cannot
 *   flush main.
 * - Adaptive window (on by default, as in Caffeine since 2.7): a hill
 *   climber samples the hit ratio every sketch sample (10 x the entries) and
 *   moves 6.25 % of the capacity between window and main in the direction
 *   that helped, the step decaying by 2 % a sample and restarting when the
 *   hit ratio jumps by 5 points. Recency-skewed traffic grows the window
 *   (towards LRU), frequency-skewed traffic shrinks it.
 *
 * Not reproduced: Caffeine's random admission of warm candidates (a defence
 * against hash flooding) and its packing of counters into 64-bit words.
 * Every operation is O(1) amortised: list moves, 4 sketch cells, and a
 * halving of the sketch every 10 x C additions (tinylfu-core.ts).
 */
import { HIT, REJECTED, stored } from './access-result.js'
import { checkCapacity, checkSize } from './checks.js'
import { hashKey } from './hash.js'
import { checkTinyLfuOptions, TinyLfuCore } from './tinylfu-core.js'
import type { WTinyLfuOptions, WTinyLfuRegion } from './tinylfu-core.js'
import type { AccessResult, EvictionPolicy } from './types.js'

export type { WTinyLfuOptions } from './tinylfu-core.js'

export interface WTinyLfuPolicy extends EvictionPolicy {
  /** Where a key is, for tests and diagnostics. */
  where(key: string): WTinyLfuRegion | undefined
  /** The sketch's estimate for a key (0 to 15). */
  frequency(key: string): number
  /** The window's current target in bytes (moves when adaptive). */
  readonly windowBytes: number
}

class WTinyLfu implements WTinyLfuPolicy {
  readonly name = 'w-tinylfu' as const
  readonly capacityBytes: number
  readonly #core: TinyLfuCore

  constructor(capacityBytes: number, options: WTinyLfuOptions) {
    this.capacityBytes = checkCapacity(capacityBytes)
    this.#core = new TinyLfuCore(capacityBytes, checkTinyLfuOptions(options))
  }

  get bytes(): number {
    return this.#core.bytes
  }
  get count(): number {
    return this.#core.count
  }
  get windowBytes(): number {
    return this.#core.windowTarget
  }

  access(key: string, size: number): AccessResult {
    checkSize(size)
    const core = this.#core
    const found = core.get(key)
    const hash = found?.hash ?? hashKey(key)
    core.sketch.increment(hash)
    if (found !== undefined) {
      if (found.size === size) {
        core.hit(found)
        return HIT
      }
      core.remove(key)
    }
    core.miss()
    if (size > this.capacityBytes) return REJECTED
    const evicted: string[] = []
    core.insert(key, hash, size, evicted)
    return stored(evicted)
  }

  has(key: string): boolean {
    return this.#core.has(key)
  }
  remove(key: string): boolean {
    return this.#core.remove(key)
  }
  keys(): IterableIterator<string> {
    return this.#core.keys()
  }
  where(key: string): WTinyLfuRegion | undefined {
    return this.#core.where(key)
  }

  frequency(key: string): number {
    return this.#core.sketch.frequency(this.#core.get(key)?.hash ?? hashKey(key))
  }
}

export function createWTinyLfu(capacityBytes: number, options: WTinyLfuOptions = {}): WTinyLfuPolicy {
  return new WTinyLfu(capacityBytes, options)
}
