/**
 * How long the SDK holds a track key, as values in and values out (the wall clock is passed in:
 * a lease outlives the process that took it).
 *
 * A key is held for `ttlMs` from when the key service gave it, in memory and (unless the app
 * says no) beside the cache's chunks, so that a cached track plays again, in this client or the
 * next one on this device, without a round trip. The price: within the lease, anyone who can read
 * the cache directory (or the page's Cache Storage) can decrypt the cached chunks of that track;
 * past it the key is gone and the key service is asked again, so a listener whose access was
 * revoked loses the track at the latest when the lease ends. Chunks and keys never leave the
 * device together: peers are served `c/` entries only, and the edge never sees either.
 */
export interface KeyLease {
  /** The 16-byte AES key, base64url, as the key service sent it. */
  key: string
  /** Wall-clock ms since the epoch after which the key is not used. */
  expiresAt: number
}

/** Default lease: an hour, a session token's life at the key service. */
export const DEFAULT_KEY_TTL_SEC = 3600

export function leaseKey(key: string, nowMs: number, ttlMs: number): KeyLease {
  return { key, expiresAt: nowMs + Math.max(0, ttlMs) }
}

const leaseValid = (lease: KeyLease, nowMs: number) => nowMs < lease.expiresAt

export function encodeLease(lease: KeyLease): Uint8Array {
  return new TextEncoder().encode(JSON.stringify({ key: lease.key, expiresAt: lease.expiresAt }))
}

/** A stored lease, or undefined when the bytes are not one or it has run out. */
export function decodeLease(bytes: Uint8Array, nowMs: number): KeyLease | undefined {
  try {
    const value = JSON.parse(new TextDecoder().decode(bytes)) as Partial<KeyLease>
    if (typeof value.key !== 'string' || !/^[A-Za-z0-9_-]{22}$/.test(value.key) || typeof value.expiresAt !== 'number') return undefined
    const lease = { key: value.key, expiresAt: value.expiresAt }
    return leaseValid(lease, nowMs) ? lease : undefined
  } catch {
    return undefined
  }
}

/** Cached tracks whose keys a client renews at most (MAX_BATCH_KEYS: one request; the default cache holds about 57 tracks). */
export const DEFAULT_KEYS_RENEWED = 64

/**
 * The cached tracks whose keys a client renews as its session starts: the most recently used
 * first, skipping those whose key is held, at most `limit`. A client met again after its leases
 * ran out (a listener who comes back the next day) otherwise waits a round trip to the key
 * service on each cached track it plays; with the keys in hand, a cached track played during the
 * session waits on nothing. The price: the key service hears which tracks this device holds (it
 * gave their keys before), and gives keys that may not be used this time.
 */
export function keysToRenew<T>(recent: Iterable<T>, limit: number, held: (track: T) => boolean): T[] {
  const out: T[] = []
  if (limit <= 0) return out
  for (const track of recent) {
    if (held(track) || out.includes(track)) continue
    out.push(track)
    if (out.length >= limit) break
  }
  return out
}
