import { IMMUTABLE } from './http.js'
import type { RequestContext, CacheLike } from './types.js'

/**
 * The Cache API cannot list its keys, so purge cannot ask it what a track left behind. Chunk
 * keys follow from a manifest (track, version, quality, index up to chunkCount); what purge
 * needs is every version the tiers ever held. This index keeps them: in the isolate, and as one
 * small document per track in the Cache API itself, so that an isolate started later (or
 * another one) finds the versions its predecessors cached.
 *
 * Two isolates recording two new versions of one track at the same instant can lose one of the
 * writes; the purge then still finds that version when it is the track's current one.
 */
export interface VersionIndex {
  record(trackId: string, version: string, ctx: RequestContext): void
  versions(trackId: string): Promise<string[]>
  forget(trackId: string): Promise<void>
}

export function createVersionIndex(options: { cache: CacheLike; cacheBase: string }): VersionIndex {
  const { cache, cacheBase } = options
  // One set per track: cache keys no longer depend on the hostname a request came in on.
  const known = new Map<string, Set<string>>()
  const key = (trackId: string) => `${cacheBase}/_chorus/versions/${trackId}`

  async function stored(trackId: string): Promise<string[]> {
    const res = await cache.match(key(trackId))
    if (!res) return []
    try {
      const doc = (await res.json()) as { versions?: unknown }
      return Array.isArray(doc.versions) ? doc.versions.filter((v): v is string => typeof v === 'string') : []
    } catch {
      return []
    }
  }

  return {
    record(trackId, version, ctx) {
      let set = known.get(trackId)
      if (set?.has(version)) return
      if (!set) {
        set = new Set()
        known.set(trackId, set)
      }
      set.add(version)
      ctx.waitUntil(
        (async () => {
          const all = new Set([...(await stored(trackId)), ...set])
          const body = JSON.stringify({ trackId, versions: [...all].sort() })
          await cache.put(key(trackId), new Response(body, { headers: { 'content-type': 'application/json', 'cache-control': IMMUTABLE } }))
        })().catch(() => {}),
      )
    },
    async versions(trackId) {
      return [...new Set([...(known.get(trackId) ?? []), ...(await stored(trackId))])]
    },
    async forget(trackId) {
      known.delete(trackId)
      await cache.delete(key(trackId)).catch(() => false)
    },
  }
}
