/**
 * A 32-bit hash of a key for the frequency sketches: FNV-1a over the UTF-16
 * code units, then an avalanche step so that keys differing in their last
 * character (chunk indexes) spread over the whole word.
 */
export function hashKey(key: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < key.length; i++) {
    h = Math.imul(h ^ key.charCodeAt(i), 0x01000193)
  }
  return mix32(h)
}

/** A bijective 32-bit finaliser (the murmur3 one): nearby inputs, distant outputs. */
function mix32(value: number): number {
  let h = value | 0
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b)
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35)
  return (h ^ (h >>> 16)) >>> 0
}
