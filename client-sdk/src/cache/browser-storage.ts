import type { CacheStorageBackend } from './types.js'

/** Where each entry's last use is kept, inside the same cache (no key starts with a dot). */
const USED_KEY = '.used'

/**
 * Cache Storage in browsers: entries are stored as responses under a synthetic URL per key,
 * so they survive reloads and are evicted by the browser only under storage pressure.
 *
 * Cache Storage keeps no access times, and the cache above it wants its entries least recently
 * used first (to evict in order after a reload, and to seed the tracks played last). So each
 * get and put notes the time in memory, and the notes are written to one entry of their own at
 * most every `saveAfterMs`; list() orders by them, entries never noted first.
 */
export function createBrowserStorage(name = 'chorus-chunks', options: { saveAfterMs?: number } = {}): CacheStorageBackend {
  const url = (key: string) => `https://chorus.cache/${key}`
  const open = () => caches.open(name)
  const saveAfterMs = options.saveAfterMs ?? 2000

  let used: Promise<Map<string, number>> | undefined
  /** The notes, read once from the cache; a missing or unreadable entry is no notes. */
  function notes(): Promise<Map<string, number>> {
    used ??= open()
      .then((cache) => cache.match(url(USED_KEY)))
      .then((res) => (res ? res.json() : {}))
      .then((saved: Record<string, number>) => new Map(Object.entries(saved).filter(([, at]) => typeof at === 'number')))
      .catch(() => new Map<string, number>())
    return used
  }

  // biome-ignore lint/correctness/noUnusedVariables: read by `saving ??=` below (one pending save at a time); Biome does not count a logical assignment as a read
  let saving: ReturnType<typeof setTimeout> | undefined
  function scheduleSave(): void {
    saving ??= setTimeout(async () => {
      saving = undefined
      const body = JSON.stringify(Object.fromEntries(await notes()))
      await (await open()).put(url(USED_KEY), new Response(body, { headers: { 'content-type': 'application/json' } })).catch(() => {})
    }, saveAfterMs)
  }

  async function note(key: string, at: number | undefined): Promise<void> {
    const map = await notes()
    if (at === undefined) map.delete(key)
    else map.set(key, at)
    scheduleSave()
  }

  return {
    async get(key) {
      const res = await (await open()).match(url(key))
      if (!res) return undefined
      void note(key, Date.now())
      return new Uint8Array(await res.arrayBuffer())
    },
    async put(key, bytes) {
      await (await open()).put(url(key), new Response(bytes as Uint8Array<ArrayBuffer>, { headers: { 'content-length': String(bytes.byteLength) } }))
      await note(key, Date.now())
    },
    async delete(key) {
      await (await open()).delete(url(key))
      await note(key, undefined)
    },
    async list() {
      const cache = await open()
      const at = await notes()
      const out: Array<{ key: string; size: number; at: number }> = []
      for (const req of await cache.keys()) {
        const key = new URL(req.url).pathname.slice(1)
        if (key === USED_KEY) continue
        const res = await cache.match(req)
        out.push({ key, size: Number(res?.headers.get('content-length') ?? 0), at: at.get(key) ?? 0 })
      }
      // Array.prototype.sort is stable: entries with equal times keep Cache Storage's order.
      return out.sort((a, b) => a.at - b.at).map(({ key, size }) => ({ key, size }))
    },
  }
}
