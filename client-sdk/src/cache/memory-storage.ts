import type { CacheStorageBackend } from './types.js'

export function createMemoryStorage(): CacheStorageBackend {
  const map = new Map<string, Uint8Array>()
  return {
    get: async (key) => map.get(key),
    put: async (key, bytes) => void map.set(key, bytes),
    delete: async (key) => void map.delete(key),
    list: async () => [...map].map(([key, v]) => ({ key, size: v.byteLength })),
  }
}
