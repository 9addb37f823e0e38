// Bans for repeated abuse. A peer_id is chosen by the client (a banned peer would come back under
// a new one), so a ban is keyed by what the client cannot change at will: the subject of its
// session token when auth is on, else its address (see address.ts). Each socket closed for abuse
// is a strike; `strikes` of them within `ms` ban the key for `ms` after the last one.

export interface BanList {
  /** Adds a strike; true when this strike starts a ban. */
  strike(key: string, at: number): boolean
  banned(key: string, at: number): boolean
  /** Forgets strikes and bans that are over. */
  sweep(at: number): void
  readonly size: number
}

export function createBanList(options: { strikes: number; ms: number; maxEntries: number }): BanList {
  const { strikes, ms, maxEntries } = options
  /** Insertion order is the order of first strike: the oldest entry goes first when full. */
  const entries = new Map<string, { strikes: number; until: number }>()

  return {
    strike(key, at) {
      if (strikes === 0) return false
      let entry = entries.get(key)
      if (entry === undefined || at >= entry.until) {
        if (entry === undefined && entries.size >= maxEntries) entries.delete(entries.keys().next().value as string)
        entry = { strikes: 0, until: 0 }
        entries.set(key, entry)
      }
      entry.strikes++
      entry.until = at + ms
      return entry.strikes === strikes
    },
    banned(key, at) {
      const entry = entries.get(key)
      return entry !== undefined && strikes > 0 && entry.strikes >= strikes && at < entry.until
    },
    sweep(at) {
      for (const [key, entry] of entries) if (at >= entry.until) entries.delete(key)
    },
    get size() {
      return entries.size
    },
  }
}
