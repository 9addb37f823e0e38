/**
 * The machinery of W-TinyLFU (see w-tinylfu.ts for the policy and its
 * sources), with the byte budget it may use given from outside: the
 * W-TinyLFU policy gives it the whole capacity; the chunk-aware policy gives
 * it what its chunks leave, so that objects other than chunks (manifests and
 * the like) are managed exactly as W-TinyLFU would.
 */
import { createFrequencySketch } from './frequency-sketch.js'
import type { FrequencySketch } from './frequency-sketch.js'
import { LinkedList } from './linked-list.js'

export interface WTinyLfuOptions {
  /** Initial share of the bytes for the window; Caffeine's 1 % by default. */
  windowRatio?: number
  /** Share of main's bytes for the protected segment; 80 % by default. */
  protectedRatio?: number
  /** Hill-climb the window size; default true. */
  adaptive?: boolean
}

export type WTinyLfuRegion = 'window' | 'probation' | 'protected'

const WINDOW = 0
const PROBATION = 1
const PROTECTED = 2
const REGIONS: readonly WTinyLfuRegion[] = ['window', 'probation', 'protected']
/** The order in which regions give up entries when something else needs room. */
const LINE = [PROBATION, PROTECTED, WINDOW] as const

// Caffeine's published hill-climber constants.
const STEP_SHARE = 0.0625
const STEP_DECAY = 0.98
const RESTART_THRESHOLD = 0.05

export interface TinyLfuEntry {
  readonly key: string
  readonly hash: number
  readonly size: number
  region: number
  prev: TinyLfuEntry | null
  next: TinyLfuEntry | null
}

export function checkTinyLfuOptions(options: WTinyLfuOptions): Required<WTinyLfuOptions> {
  const windowRatio = options.windowRatio ?? 0.01
  if (typeof windowRatio !== 'number' || !(windowRatio >= 0 && windowRatio < 1)) {
    throw new TypeError(`windowRatio must be a number from 0 to below 1, got ${String(windowRatio)}`)
  }
  const protectedRatio = options.protectedRatio ?? 0.8
  if (typeof protectedRatio !== 'number' || !(protectedRatio >= 0 && protectedRatio < 1)) {
    throw new TypeError(`protectedRatio must be a number from 0 to below 1, got ${String(protectedRatio)}`)
  }
  const adaptive = options.adaptive ?? true
  if (typeof adaptive !== 'boolean') throw new TypeError(`adaptive must be a boolean, got ${String(adaptive)}`)
  return { windowRatio, protectedRatio, adaptive }
}

export class TinyLfuCore {
  /** Bytes this core may hold; the owner moves it. */
  limit: number
  readonly sketch: FrequencySketch
  readonly #capacity: number
  readonly #index = new Map<string, TinyLfuEntry>()
  readonly #lists = [new LinkedList<TinyLfuEntry>(), new LinkedList<TinyLfuEntry>(), new LinkedList<TinyLfuEntry>()] as const
  readonly #protectedRatio: number
  readonly #adaptive: boolean
  readonly #candidates: TinyLfuEntry[] = []
  #windowTarget: number
  #pendingBytes = 0
  #sampleHits = 0
  #sampleRequests = 0
  #previousHitRatio = 0
  #step: number

  constructor(capacityBytes: number, options: Required<WTinyLfuOptions>) {
    this.#capacity = capacityBytes
    this.limit = capacityBytes
    this.#windowTarget = capacityBytes * options.windowRatio
    this.#protectedRatio = options.protectedRatio
    this.#adaptive = options.adaptive
    this.#step = STEP_SHARE * capacityBytes
    this.sketch = createFrequencySketch()
  }

  get bytes(): number {
    return this.#lists[WINDOW].bytes + this.#lists[PROBATION].bytes + this.#lists[PROTECTED].bytes + this.#pendingBytes
  }

  get count(): number {
    return this.#index.size
  }
  get windowTarget(): number {
    return this.#windowTarget
  }

  get(key: string): TinyLfuEntry | undefined {
    return this.#index.get(key)
  }
  has(key: string): boolean {
    return this.#index.has(key)
  }
  keys(): IterableIterator<string> {
    return this.#index.keys()
  }

  where(key: string): WTinyLfuRegion | undefined {
    const entry = this.#index.get(key)
    return entry === undefined ? undefined : REGIONS[entry.region]
  }

  /** A request for a cached entry of the same size (the sketch is counted by the caller). */
  hit(entry: TinyLfuEntry): void {
    const list = this.#lists[entry.region as 0 | 1 | 2]
    list.unlink(entry)
    if (entry.region === PROBATION) {
      entry.region = PROTECTED
      this.#lists[PROTECTED].pushHead(entry)
      this.#demoteProtected()
    } else {
      list.pushHead(entry)
    }
    this.#sample(true)
  }

  /** A request that missed (counted for the hill climber). */
  miss(): void {
    this.#sample(false)
  }

  /** Stores a new entry in the window and evicts, with admission duels, down to `limit`. */
  insert(key: string, hash: number, size: number, evicted: string[]): void {
    const entry: TinyLfuEntry = { key, hash, size, region: WINDOW, prev: null, next: null }
    this.#index.set(key, entry)
    this.#lists[WINDOW].pushHead(entry)
    this.sketch.ensureCapacity(this.#index.size)
    this.#evict(entry, evicted)
  }

  remove(key: string): boolean {
    const entry = this.#index.get(key)
    if (entry === undefined) return false
    this.#index.delete(key)
    this.#lists[entry.region as 0 | 1 | 2].unlink(entry)
    return true
  }

  /** The entry that would leave next if something else needed room: main's victim, else the window's oldest. */
  victim(): TinyLfuEntry | null {
    return this.#lists[PROBATION].tail ?? this.#lists[PROTECTED].tail ?? this.#lists[WINDOW].tail
  }

  evictVictim(evicted: string[]): void {
    const victim = this.victim()
    if (victim !== null) this.#evictEntry(victim, evicted)
  }

  /**
   * Up to `count` of the entries next in line to leave (probation's oldest,
   * then protected's, then the window's), oldest first, into `out`.
   */
  nextInLine(count: number, out: TinyLfuEntry[]): void {
    out.length = 0
    for (const region of LINE) {
      for (let entry = this.#lists[region].tail; entry !== null && out.length < count; entry = entry.prev) out.push(entry)
      if (out.length >= count) return
    }
  }

  /** Evicts this entry (chosen by the owner among nextInLine's). */
  evict(entry: TinyLfuEntry, evicted: string[]): void {
    this.#evictEntry(entry, evicted)
  }

  #demoteProtected(): void {
    const protectedList = this.#lists[PROTECTED]
    const target = this.#protectedRatio * (this.limit - this.#windowTarget)
    while (protectedList.bytes > target && protectedList.count > 1) {
      const oldest = protectedList.popTail() as TinyLfuEntry
      oldest.region = PROBATION
      this.#lists[PROBATION].pushHead(oldest)
    }
  }

  #evict(newest: TinyLfuEntry, evicted: string[]): void {
    const window = this.#lists[WINDOW]
    const candidates = this.#candidates
    // The window's oldest entries leave it as candidates for main; the
    // newest always stays, however large, so every insert is stored.
    while (window.bytes > this.#windowTarget && window.tail !== newest && window.tail !== null) {
      const candidate = window.popTail() as TinyLfuEntry
      this.#pendingBytes += candidate.size
      candidates.push(candidate)
    }
    for (const candidate of candidates) {
      let admitted = true
      while (this.bytes > this.limit) {
        const victim = this.#lists[PROBATION].tail ?? this.#lists[PROTECTED].tail
        if (victim === null) break
        // A tie keeps the victim: a newcomer must have been asked for more often.
        if (this.sketch.frequency(candidate.hash) > this.sketch.frequency(victim.hash)) {
          this.#evictEntry(victim, evicted)
        } else {
          admitted = false
          break
        }
      }
      this.#pendingBytes -= candidate.size
      if (admitted) {
        candidate.region = PROBATION
        this.#lists[PROBATION].pushHead(candidate)
      } else {
        this.#index.delete(candidate.key)
        evicted.push(candidate.key)
      }
    }
    candidates.length = 0
    // Still over: the newest is large, or the window grew; main pays, then the window.
    while (this.bytes > this.limit) {
      const victim = this.#lists[PROBATION].tail ?? this.#lists[PROTECTED].tail ?? (window.tail !== newest ? window.tail : null)
      if (victim === null) break
      this.#evictEntry(victim, evicted)
    }
  }

  #evictEntry(entry: TinyLfuEntry, evicted: string[]): void {
    this.#lists[entry.region as 0 | 1 | 2].unlink(entry)
    this.#index.delete(entry.key)
    evicted.push(entry.key)
  }

  /** The hill climber: one sample is a sketch's worth of requests. */
  #sample(hit: boolean): void {
    if (!this.#adaptive) return
    if (hit) this.#sampleHits++
    if (++this.#sampleRequests < this.sketch.sampleSize) return
    const hitRatio = this.#sampleHits / this.#sampleRequests
    const change = hitRatio - this.#previousHitRatio
    // Keep going the same way while the hit ratio does not fall; turn back when it does.
    const amount = change >= 0 ? this.#step : -this.#step
    this.#step = Math.abs(change) >= RESTART_THRESHOLD ? STEP_SHARE * this.#capacity * (amount < 0 ? -1 : 1) : STEP_DECAY * amount
    this.#previousHitRatio = hitRatio
    this.#sampleHits = 0
    this.#sampleRequests = 0
    this.#windowTarget = Math.min(this.#capacity, Math.max(0, this.#windowTarget + amount))
  }
}
