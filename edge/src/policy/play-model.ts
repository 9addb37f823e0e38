/**
 * What the chunk-aware policy knows about how songs are played, learned from
 * the requests alone (no clock: time is counted in chunk requests).
 *
 * - Streams: one per (track, version, bitrate), created on first sight and
 *   forgotten when none of their chunks is cached and they have not been
 *   asked for in a while (a bounded LRU of idle streams).
 * - Plays: a play requests chunk 0, 1, 2 ... of a stream, one request every
 *   `gap` requests of the whole edge on average (many listeners interleave).
 *   Each stream keeps up to 8 cursors, one per play in progress: a request
 *   for chunk i moves the cursor that was at i - 1, else starts a new one (a
 *   play start, or a seek). A cursor not moved for 8 gaps is a play that
 *   ended. `gap` is learned from the cursors' moves.
 * - Popularity, grouped by track: plays started per stream. A stream counts
 *   its own; a count-min sketch (16-bit counters) remembers them for streams
 *   the model has forgotten. Every sample of the sketch (10 x the cache's
 *   entries, in plays) all counts are halved, so rates follow a changing
 *   catalogue.
 * - Stop points: requests by chunk index over all streams give
 *   S(i) = requests(i) / requests(0), the share of plays that reach chunk i
 *   (most stop early: a track's head is worth more than its tail). Each
 *   stream also counts its requests by bucket of 16 chunks, and S is
 *   corrected by how its own counts compare with what S predicts for its
 *   plays (a short track has none past its end; a track people skip, few
 *   past its first seconds), damped by a prior of 32 requests.
 *
 * From these, `expectedNextUse(stream, i)` estimates in how many requests
 * chunk i will be asked for again, adding the rates of the ways it can be:
 * - a new play reaching i: plays start at rate r (per request), a share
 *   S(i) of them reach i, and they take i gaps to get there: one request
 *   every 1 / (r S(i)) + i gap on average;
 * - each play in progress at chunk j < i: it gets to i in (i - j) gaps with
 *   probability S(i) / S(j).
 * Every step is O(1): at most 8 cursors a stream, 16 buckets, 4 sketch cells.
 */
import { createFrequencySketch } from './frequency-sketch.js'
import type { FrequencySketch } from './frequency-sketch.js'
import { hashKey } from './hash.js'
import { LinkedList } from './linked-list.js'

const MAX_CURSORS = 8
const MAX_INDEX = 4095
/** A stream's own stop points are counted in buckets of 16 chunks (about 25 s at 160 kbit/s). */
const BUCKET_SHIFT = 4
const BUCKETS = 16
/** A cursor not moved for this many gaps is a play that has ended. */
const CURSOR_LIFE_GAPS = 8
/**
 * But a late request still moves it, up to this many gaps: dropping cursors
 * at the end of their life would censor the gaps measured (only quick steps
 * would count), shrink `gap`, and so the life, and so on down.
 */
const CURSOR_MATCH_GAPS = 32
const INITIAL_GAP = 16
/** Plays credited to every stream, so that a stream never seen starting has a rate above 0. */
const PRIOR_PLAYS = 0.05
/** Requests of prior weight in a stream's own stop-point correction. */
const PRIOR_REQUESTS = 32
const MAX_IDLE_STREAMS = 4096

function bucketOf(index: number): number {
  const bucket = index >>> BUCKET_SHIFT
  return bucket < BUCKETS ? bucket : BUCKETS - 1
}

export interface Stream {
  readonly key: string
  readonly hash: number
  /** Chunks of this stream in the cache; the model forgets streams only at 0. */
  cached: number
  readonly cursorIndex: Int32Array
  readonly cursorTime: Float64Array
  /** The stream's reach at each cursor's chunk, as of the cursor's last move. */
  readonly cursorReach: Float64Array
  cursors: number
  /** Plays started (chunk 0 requests), aged with the model. */
  plays: number
  /** Requests by bucket of 16 chunks, aged with the model: this stream's own stop points. */
  readonly byBucket: Float32Array
  /** The model's agings already applied to the counts above. */
  age: number
  // Idle-list links (a LinkedList wants a size; streams weigh nothing).
  readonly size: 0
  idle: boolean
  prev: Stream | null
  next: Stream | null
}

export class PlayModel {
  /** Chunk requests seen (read-aheads excluded): the model's clock. */
  clock = 0
  /** Mean requests between two successive requests of one play. */
  gap = INITIAL_GAP
  readonly #streams = new Map<string, Stream>()
  readonly #idle = new LinkedList<Stream>()
  readonly #plays: FrequencySketch
  /** Requests for keys that are not chunks (manifests...), aged with the plays. */
  readonly #objects: FrequencySketch
  readonly #byIndex = new Float64Array(MAX_INDEX + 1)
  readonly #byBucket = new Float64Array(BUCKETS)
  /** Requests counted over the same history as the plays (halved with them). */
  #requests = 0
  #age = 0

  constructor() {
    this.#plays = createFrequencySketch({ maxCount: 65535 })
    // Never resets by itself: it is halved along with the plays (#ageAll).
    this.#objects = createFrequencySketch({ maxCount: 65535, sampleFactor: 1024 })
  }

  get streams(): number {
    return this.#streams.size
  }

  /** Sizes the popularity sketch (and so the aging period) for a cache of this many entries. */
  ensureCapacity(entries: number): void {
    this.#plays.ensureCapacity(entries)
    this.#objects.ensureCapacity(entries)
  }

  /** A client asked for a key that is not a chunk (its hash, see hash.ts). */
  observeObject(hash: number): void {
    this.#objects.increment(hash)
  }

  /**
   * Expected chunk requests until that key is asked for again: its requests
   * over the same history as the plays give its rate, as a play count gives
   * a stream's. The same prior keeps it finite.
   */
  objectNextUse(hash: number): number {
    return (this.#requests + 1) / (this.#objects.frequency(hash) + PRIOR_PLAYS)
  }

  /** The stream of this key (`/v1/chunks/{track}/{version}/{bitrate}`), created if new. */
  stream(key: string): Stream {
    let stream = this.#streams.get(key)
    if (stream === undefined) {
      const hash = hashKey(key)
      stream = {
        key,
        hash,
        cached: 0,
        cursorIndex: new Int32Array(MAX_CURSORS),
        cursorTime: new Float64Array(MAX_CURSORS),
        cursorReach: new Float64Array(MAX_CURSORS),
        cursors: 0,
        plays: this.#plays.frequency(hash),
        byBucket: new Float32Array(BUCKETS),
        age: this.#age,
        size: 0,
        idle: false,
        prev: null,
        next: null,
      }
      this.#streams.set(key, stream)
      this.#makeIdle(stream)
    } else if (stream.idle) {
      // Most recently seen first, so the least recently seen is forgotten first.
      this.#idle.unlink(stream)
      this.#idle.pushHead(stream)
    }
    return stream
  }

  /** One chunk of the stream entered the cache. */
  retain(stream: Stream): void {
    if (stream.cached++ === 0 && stream.idle) {
      this.#idle.unlink(stream)
      stream.idle = false
    }
  }

  /** One chunk of the stream left the cache. */
  release(stream: Stream): void {
    if (--stream.cached === 0) this.#makeIdle(stream)
  }

  #makeIdle(stream: Stream): void {
    stream.idle = true
    this.#idle.pushHead(stream)
    while (this.#idle.count > MAX_IDLE_STREAMS) {
      const oldest = this.#idle.popTail() as Stream
      oldest.idle = false
      this.#streams.delete(oldest.key)
    }
  }

  /** A client asked for chunk `index` of `stream`. */
  observe(stream: Stream, index: number): void {
    const now = ++this.clock
    this.#requests++
    const at = Math.min(index, MAX_INDEX)
    this.#byIndex[at] = (this.#byIndex[at] as number) + 1
    const bucket = bucketOf(index)
    this.#byBucket[bucket] = (this.#byBucket[bucket] as number) + 1
    if (index === 0) {
      this.#plays.increment(stream.hash)
      if (this.#plays.resets !== this.#age) this.#ageAll()
    }
    this.#catchUp(stream)
    stream.byBucket[bucket] = (stream.byBucket[bucket] as number) + 1
    if (index === 0) stream.plays++
    this.#moveCursor(stream, index, now)
  }

  #ageAll(): void {
    // The sketch has just halved its counts: halve everything counted alongside.
    this.#age = this.#plays.resets
    this.#objects.age()
    this.#requests /= 2
    const byIndex = this.#byIndex
    for (let i = 0; i < byIndex.length; i++) byIndex[i] = (byIndex[i] as number) / 2
    for (let b = 0; b < BUCKETS; b++) this.#byBucket[b] = (this.#byBucket[b] as number) / 2
  }

  /** Halves a stream's counts once for every aging it missed (lazily: streams are many). */
  #catchUp(stream: Stream): void {
    const missed = this.#age - stream.age
    if (missed === 0) return
    const factor = missed >= 30 ? 0 : 1 / (1 << missed)
    stream.plays *= factor
    for (let b = 0; b < BUCKETS; b++) stream.byBucket[b] = (stream.byBucket[b] as number) * factor
    stream.age = this.#age
  }

  #moveCursor(stream: Stream, index: number, now: number): void {
    const life = CURSOR_MATCH_GAPS * this.gap
    const indexes = stream.cursorIndex
    const times = stream.cursorTime
    const reaches = stream.cursorReach
    for (let k = 0; k < stream.cursors; k++) {
      if (now - (times[k] as number) > life) {
        // Ended: the last cursor takes its place.
        const last = --stream.cursors
        indexes[k] = indexes[last] as number
        times[k] = times[last] as number
        reaches[k] = reaches[last] as number
        k--
      }
    }
    const reach = this.#streamReach(stream, index)
    let follows = -1
    let oldest = 0
    for (let k = 0; k < stream.cursors; k++) {
      if (indexes[k] === index - 1 && (follows < 0 || (times[k] as number) > (times[follows] as number))) follows = k
      if ((times[k] as number) < (times[oldest] as number)) oldest = k
    }
    if (follows >= 0) {
      this.gap += (now - (times[follows] as number) - this.gap) / 64
      indexes[follows] = index
      times[follows] = now
      reaches[follows] = reach
      return
    }
    // A play starts (or seeks) here; with 8 in progress, the quietest makes way.
    const slot = stream.cursors < MAX_CURSORS ? stream.cursors++ : oldest
    indexes[slot] = index
    times[slot] = now
    reaches[slot] = reach
  }

  /** Share of all plays that reach chunk i, from the stop points seen. */
  reach(index: number): number {
    const byIndex = this.#byIndex
    return ((byIndex[Math.min(index, MAX_INDEX)] as number) + 1) / ((byIndex[0] as number) + 1)
  }

  /** Share of this stream's plays that reach chunk i (assumes #catchUp ran). */
  #streamReach(stream: Stream, index: number): number {
    const bucket = bucketOf(index)
    const predicted = (stream.plays * ((this.#byBucket[bucket] as number) + 1)) / ((this.#byIndex[0] as number) + 1)
    return (this.reach(index) * ((stream.byBucket[bucket] as number) + PRIOR_REQUESTS)) / (predicted + PRIOR_REQUESTS)
  }

  /** Plays started per chunk request, for this stream. */
  rate(stream: Stream): number {
    this.#catchUp(stream)
    return (stream.plays + PRIOR_PLAYS) / (this.#requests + 1)
  }

  /** Expected chunk requests until chunk `index` of `stream` is asked for again. */
  expectedNextUse(stream: Stream, index: number): number {
    const gap = this.gap
    const reach = this.#streamReach(stream, index)
    // Requests per request that will ask for the chunk: new plays, then plays under way.
    let rate = 1 / (1 / (this.rate(stream) * reach) + gap * index)
    const life = CURSOR_LIFE_GAPS * gap
    for (let k = 0; k < stream.cursors; k++) {
      const at = stream.cursorIndex[k] as number
      if (at >= index || this.clock - (stream.cursorTime[k] as number) > life) continue
      rate += Math.min(1, reach / (stream.cursorReach[k] as number)) / (gap * (index - at))
    }
    return 1 / rate
  }

  /** Requests after which a read-ahead nobody asked for is presumed abandoned. */
  get staleAfter(): number {
    return CURSOR_LIFE_GAPS * this.gap
  }
}
