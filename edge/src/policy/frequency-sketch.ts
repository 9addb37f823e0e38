/**
 * The frequency sketch of TinyLFU (Einziger, Friedman and Manes, ACM TOS
 * 2017): a count-min sketch of small saturating counters that estimates how
 * often a key was requested recently, in fixed memory whatever the number of
 * keys.
 *
 * - Depth 4: a key owns one counter in each of 4 rows, found by double
 *   hashing its 32-bit hash; its estimate is the smallest of the 4 (a
 *   collision can only add, so the minimum is the least polluted).
 * - Counters saturate at 15 (4 bits' worth, as in the paper and Caffeine):
 *   TinyLFU only has to rank a newcomer against a victim, and beyond 15
 *   recent requests both are plainly popular.
 * - Aging ("reset"): after `sampleSize` counted additions every counter is
 *   halved, so the sketch reflects a sliding history rather than all time.
 *   A popular key keeps half its count across a reset; a key seen once is
 *   forgotten after one.
 * - Size: for C cached entries (rounded up to a power of two), rows of 4 x C
 *   counters, so 16 counters per entry in all as in Caffeine, and a sample
 *   of 10 x C additions: a row then takes about 2.5 additions per counter
 *   between halvings, few enough for the minimum of 4 to be close to the
 *   truth. `ensureCapacity` grows it as the cache fills up, each new counter
 *   starting from the one it grew out of, so counts survive the growth.
 *
 * Counters are kept one per byte: simpler and faster in JavaScript than
 * packing 16 into a 64-bit word, at 16 bytes per cached entry.
 */

export interface FrequencySketch {
  /** Counters per row, a power of two (4 x the entries it is sized for). */
  readonly width: number
  /** Additions between two halvings. */
  readonly sampleSize: number
  /** Counts one request for the key of this hash (see hash.ts). */
  increment(hash: number): void
  /** Recent requests for the key of this hash, at most maxCount, never under-counted within a sample. */
  frequency(hash: number): number
  /** Makes room for `entries` cached entries: widens the rows (keeping counts) when needed. */
  ensureCapacity(entries: number): void
  /** Halvings so far: how many times the history was aged. */
  readonly resets: number
  /** Additions the counts stand for now (halved with them): the length of the history, in requests. */
  readonly additions: number
  /** Halves every counter now (what a reset does), for an owner that ages several histories together. */
  age(): void
}

export interface FrequencySketchOptions {
  /** Entries the cache is expected to hold; default 16, grown by ensureCapacity. */
  entries?: number
  /** Sample size as a multiple of the entries; default 10 (the paper's W = 10 x C). */
  sampleFactor?: number
  /**
   * Where counters saturate: 15 by default (TinyLFU's 4 bits). The chunk-aware
   * policy counts plays per track with 65535, as it needs rates, not ranks.
   */
  maxCount?: 15 | 255 | 65535
}

const DEPTH = 4
const MIN_ENTRIES = 16
const MAX_ENTRIES = 1 << 24
const COUNTERS_PER_ENTRY = 4

function ceilingPowerOfTwo(n: number): number {
  let entries = MIN_ENTRIES
  while (entries < n && entries < MAX_ENTRIES) entries *= 2
  return entries
}

class CountMinSketch implements FrequencySketch {
  #entries: number
  #width: number
  #mask: number
  #table: Uint8Array | Uint16Array
  #sampleSize: number
  #additions = 0
  #resets = 0
  readonly #sampleFactor: number
  readonly #maxCount: number
  readonly #slots = new Int32Array(DEPTH)

  constructor(entries: number, sampleFactor: number, maxCount: number) {
    this.#sampleFactor = sampleFactor
    this.#maxCount = maxCount
    this.#entries = ceilingPowerOfTwo(entries)
    this.#width = COUNTERS_PER_ENTRY * this.#entries
    this.#mask = this.#width - 1
    this.#table = this.#allocate()
    this.#sampleSize = sampleFactor * this.#entries
  }

  #allocate(): Uint8Array | Uint16Array {
    return this.#maxCount > 255 ? new Uint16Array(DEPTH * this.#width) : new Uint8Array(DEPTH * this.#width)
  }

  get width(): number {
    return this.#width
  }
  get sampleSize(): number {
    return this.#sampleSize
  }
  get resets(): number {
    return this.#resets
  }
  get additions(): number {
    return this.#additions
  }

  #locate(hash: number): void {
    // Double hashing: row r uses h1 + r * h2, with h2 odd so the 4 slots differ.
    const h1 = hash | 0
    const h2 = (Math.imul(hash ^ (hash >>> 15), 0x2c1b3c6d) ^ 0x5bd1e995) | 1
    for (let row = 0; row < DEPTH; row++) {
      this.#slots[row] = row * this.#width + ((h1 + Math.imul(row, h2)) & this.#mask)
    }
  }

  increment(hash: number): void {
    this.#locate(hash)
    let added = false
    for (let row = 0; row < DEPTH; row++) {
      const slot = this.#slots[row] as number
      const value = this.#table[slot] as number
      if (value < this.#maxCount) {
        this.#table[slot] = value + 1
        added = true
      }
    }
    // A key whose counters are all saturated adds nothing, so it does not
    // hasten the next reset (as in the paper).
    if (added && ++this.#additions >= this.#sampleSize) this.#reset()
  }

  frequency(hash: number): number {
    this.#locate(hash)
    let min = this.#maxCount
    for (let row = 0; row < DEPTH; row++) {
      const value = this.#table[this.#slots[row] as number] as number
      if (value < min) min = value
    }
    return min
  }

  ensureCapacity(entries: number): void {
    if (entries <= this.#entries || this.#entries >= MAX_ENTRIES) return
    const old = this.#table
    const oldWidth = this.#width
    const oldMask = this.#mask
    this.#entries = ceilingPowerOfTwo(entries)
    this.#width = COUNTERS_PER_ENTRY * this.#entries
    this.#mask = this.#width - 1
    this.#table = this.#allocate()
    this.#sampleSize = this.#sampleFactor * this.#entries
    // A key's slot in a wider row keeps the low bits of its slot in the old
    // one, so each new counter starts from the old counter it grew out of:
    // no count is lost (nor under-counted) while the cache fills up.
    for (let row = 0; row < DEPTH; row++) {
      for (let j = 0; j < this.#width; j++) {
        this.#table[row * this.#width + j] = old[row * oldWidth + (j & oldMask)] as number
      }
    }
  }

  age(): void {
    this.#reset()
  }

  #reset(): void {
    const table = this.#table
    for (let i = 0; i < table.length; i++) table[i] = (table[i] as number) >>> 1
    this.#additions = this.#additions >>> 1
    this.#resets++
  }
}

export function createFrequencySketch(options: FrequencySketchOptions = {}): FrequencySketch {
  const entries = options.entries ?? MIN_ENTRIES
  if (!Number.isSafeInteger(entries) || entries < 1) {
    throw new TypeError(`entries must be a positive integer, got ${String(entries)}`)
  }
  const sampleFactor = options.sampleFactor ?? 10
  if (!Number.isInteger(sampleFactor) || sampleFactor < 1 || sampleFactor > 1024) {
    throw new TypeError(`sampleFactor must be an integer from 1 to 1024, got ${String(sampleFactor)}`)
  }
  const maxCount = options.maxCount ?? 15
  if (maxCount !== 15 && maxCount !== 255 && maxCount !== 65535) {
    throw new TypeError(`maxCount must be 15, 255 or 65535, got ${String(maxCount)}`)
  }
  return new CountMinSketch(entries, sampleFactor, maxCount)
}
