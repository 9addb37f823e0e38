/**
 * What a play asks for as it starts, from what the client knows at that moment, as values in and
 * values out: client.ts's play() carries it out, and the simulation benchmark runs it for every
 * play. Everything it asks goes out at once, so a cold play costs one round trip, to two places.
 *
 * Where the manifest (and the first audio) come from:
 * - `prefetch`: the prefetch of this track loaded manifest, key and head into the cache;
 * - `local`: the cache holds the track's manifest and a quality of it: nothing waits on the
 *   network (the edge's current manifest is asked behind it, for the next play);
 * - `head`: the edge's head, the manifest and the first chunks in one answer, for a play from the
 *   start;
 * - `manifest`: the manifest alone (then the chunks), for a play from elsewhere in the track; and
 *   after a head the edge did not give (an edge without the route).
 *
 * Where the key comes from:
 * - `prefetch`: the one the prefetch loaded;
 * - `session`: asked now, in the session request that has not left yet (a play begun as the
 *   client is created): the session and the key are one round trip;
 * - `request`: asked now, on its own, beside the head;
 * - `manifest`: once the manifest names its version: the key held in memory, else its lease on
 *   this device, else asked then. Local starts take this path (a replay within the lease costs
 *   nothing), and so do cold ones whose key is held already.
 */
export interface StartFacts {
  /** A prefetch of this track is loaded (not merely loading). */
  prefetched: boolean
  /** The cache holds the track's manifest and a quality of it (until verified: presumed usable). */
  cachedManifest: boolean
  /** The key of the version last seen is held in memory, or on its way. */
  keyHeld: boolean
  /** A session request is about to leave: a key asked now rides in it. */
  sessionBoarding: boolean
  /** The play starts at 0 s. */
  fromStart: boolean
}

export interface StartPath {
  manifest: 'prefetch' | 'local' | 'head' | 'manifest'
  key: 'prefetch' | 'session' | 'request' | 'manifest'
}

export function startPath(f: StartFacts): StartPath {
  if (f.prefetched) return { manifest: 'prefetch', key: 'prefetch' }
  if (f.cachedManifest) return { manifest: 'local', key: 'manifest' }
  const manifest = f.fromStart ? 'head' : 'manifest'
  if (f.keyHeld) return { manifest, key: 'manifest' }
  return { manifest, key: f.sessionBoarding ? 'session' : 'request' }
}
