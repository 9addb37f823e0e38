import type { CacheStorageBackend } from './types.js'

/**
 * Cache Storage in browsers: entries are stored as responses under a synthetic URL per key,
 * so they survive reloads and are evicted by the browser only under storage pressure.
 */
export function createBrowserStorage(name = 'chorus-chunks'): CacheStorageBackend {
  const url = (key: string) => `https://chorus.cache/${key}`
  const open = () => caches.open(name)
  return {
    async get(key) {
      const res = await (await open()).match(url(key))
      return res ? new Uint8Array(await res.arrayBuffer()) : undefined
    },
    async put(key, bytes) {
      await (await open()).put(url(key), new Response(bytes as Uint8Array<ArrayBuffer>, { headers: { 'content-length': String(bytes.byteLength) } }))
    },
    async delete(key) {
      await (await open()).delete(url(key))
    },
    async list() {
      const cache = await open()
      const out: Array<{ key: string; size: number }> = []
      for (const req of await cache.keys()) {
        const res = await cache.match(req)
        out.push({ key: new URL(req.url).pathname.slice(1), size: Number(res?.headers.get('content-length') ?? 0) })
      }
      return out
    },
  }
}
