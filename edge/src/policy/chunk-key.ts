/**
 * What the chunk-aware policy reads from a key: the edge's chunk paths are
 * `/v1/chunks/{track}/{version}/{bitrate}/{index}` (protocol/src/chunk.ts);
 * a stream is one (track, version, bitrate), whose chunks are played in
 * order from 0. Any other key (a manifest, a web07 id) is a plain object.
 * Kept here rather than imported from protocol/ so the policies stay a leaf.
 */

const CHUNK_KEY_PREFIX = '/v1/chunks/'
const MAX_INDEX_DIGITS = 9

/**
 * The chunk index of a chunk key, or -1 for any other key. The stream is
 * `key.slice(0, key.lastIndexOf('/'))`.
 */
export function chunkIndexOf(key: string): number {
  if (!key.startsWith(CHUNK_KEY_PREFIX)) return -1
  const last = key.lastIndexOf('/')
  const digits = key.length - last - 1
  if (digits < 1 || digits > MAX_INDEX_DIGITS) return -1
  let index = 0
  for (let i = last + 1; i < key.length; i++) {
    const c = key.charCodeAt(i) - 48
    if (c < 0 || c > 9) return -1
    index = index * 10 + c
  }
  if (digits > 1 && key.charCodeAt(last + 1) === 48) return -1
  // Exactly three non-empty segments between the prefix and the index.
  let slashes = 0
  let previous = CHUNK_KEY_PREFIX.length - 1
  for (let i = CHUNK_KEY_PREFIX.length; i <= last; i++) {
    if (key.charCodeAt(i) === 47) {
      if (i === previous + 1) return -1
      previous = i
      slashes++
    }
  }
  return slashes === 3 ? index : -1
}

export function streamOf(key: string): string {
  return key.slice(0, key.lastIndexOf('/'))
}
