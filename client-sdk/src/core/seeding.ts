/**
 * Which swarms a client serves with nothing playing in them, as a pure core (values in, values
 * out), for client.ts and the simulation. Listeners' caches are most of what a swarm holds, and a
 * session plays only a few of them, so:
 *
 * - as a session starts it joins, as a holder, the swarms of the `fromCache` most recently used
 *   tracks its cache holds whole, looking at the `fromCache * candidatesPerSeed` most recent only
 *   (each look reads and checks a manifest); oldest first, so the most recent are the last to
 *   make room for new ones;
 * - a track whose playback ended stays joined: the seeding list keeps the last `swarms` of them
 *   (one join each), and the oldest leaves past that, which with a playback and its prefetches
 *   stays under the tracker's 32 swarms per socket; a download-only listener serves nobody, and
 *   staying in a swarm would only tell the tracker what it played.
 */
export interface SeedingRules {
  swarms: number
  fromCache: number
  candidatesPerSeed: number
}

/**
 * 24 swarms: each one more seeded is a holder more the tracker can name for that track, for an
 * announce every 2 minutes. The sim (`npm run bench -- sim`, 1,000,000 listeners) measured the
 * servers' share at 27.9 % with 16 (10 from the cache), 23.0 % with 20 and 20.6 % with 28, for
 * 1,274, 2,044 and 2,739 announces a second. 24 leaves a playback, 3 prefetches and a quality
 * switch room under the tracker's 32 swarms per socket (a 33rd join is refused).
 */
export const DEFAULT_SEEDING_RULES: SeedingRules = { swarms: 24, fromCache: 24, candidatesPerSeed: 3 }

/** The pick of a new session's seeds from its cache; tracks are whatever the caller names them by. */
export interface CacheSeeds<T> {
  /** How many of the most recently used cached tracks to look at. */
  readonly candidates: number
  /** Whether the next candidate is still worth a look (fewer than `fromCache` whole ones so far). */
  wanted(): boolean
  /** The next candidate, most recent first, and whether the cache holds it whole. */
  consider(track: T, whole: boolean): void
  /** The tracks picked, in the order to join them. */
  joinOrder(): T[]
}

export function pickCacheSeeds<T>(rules: Pick<SeedingRules, 'fromCache' | 'candidatesPerSeed'> = DEFAULT_SEEDING_RULES): CacheSeeds<T> {
  const whole: T[] = []
  return {
    candidates: rules.fromCache * rules.candidatesPerSeed,
    wanted: () => whole.length < rules.fromCache,
    consider(track, isWhole) {
      if (isWhole && whole.length < rules.fromCache) whole.push(track)
    },
    joinOrder: () => [...whole].reverse(),
  }
}

/** What releasing a track (its playback ended, or it was seeded from the cache) does to the seeding list. */
export interface SeedingRelease<T> {
  /** The list after it, oldest first. */
  seeding: T[]
  /** Drop one join of the released track: it had an entry already (one join per entry), or this listener serves nobody. */
  dropJoin: boolean
  /** Swarms pushed out of the list, oldest first: each loses its entry's join. */
  evicted: T[]
}

export function releaseSeed<T>(seeding: readonly T[], track: T, uploads: boolean, rules: Pick<SeedingRules, 'swarms'> = DEFAULT_SEEDING_RULES): SeedingRelease<T> {
  if (!uploads) return { seeding: [...seeding], dropJoin: true, evicted: [] }
  const next = seeding.filter((t) => t !== track)
  const dropJoin = next.length < seeding.length
  next.push(track)
  const evicted = next.length > rules.swarms ? next.splice(0, next.length - rules.swarms) : []
  return { seeding: next, dropJoin, evicted }
}
