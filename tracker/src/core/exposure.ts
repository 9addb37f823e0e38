// Bounded exposure: how many distinct peers each listener is introduced to. A WebRTC offer or
// answer carries its sender's addresses, so every pairing the tracker relays tells each side
// where the other is. An honest listener needs a few peers per track it plays; someone who
// announces into many swarms to collect listeners' addresses needs many more. So each listener
// (its token's subject, or its address without auth) may be paired with at most `limit` distinct
// peers in any rolling window (an hour), and the tracker reports, per listener, the peers it met
// against the swarms in which it reported download progress: who asks for far more than it plays.
//
// Pure: times are the core's clock (ms), keys are strings the core makes. Memory is bounded:
// at most `maxListeners` listeners (the least recently active forgotten first), each holding at
// most `limit` peers and `limit` progressing swarms.

/** A listener's state in a structured-clone-friendly form (Durable Object storage): absolute times. */
export interface PackedListener {
  key: string
  /** peer key, time, peer key, time, ... oldest first. */
  learned: Array<string | number>
  /** info_hash, time, ... oldest first. */
  progress: Array<string | number>
  withheld: number
}

export interface ExposureListenerReport {
  key: string
  learned: number
  progressing: number
  withheld: number
  flagged: boolean
}

interface ExposureReport {
  /** Listeners with any pairing or progress in the window. */
  listeners: number
  atLimit: number
  flagged: number
  /** The listeners that met the most peers (flagged ones first), at most `top`. */
  top: ExposureListenerReport[]
}

interface Listener {
  /** Peer key -> when last paired; insertion order is time order (a re-pairing moves it last). */
  learned: Map<string, number>
  /** info_hash -> when progress was last reported there. */
  progress: Map<string, number>
  /** Pairings not relayed because this listener was at its limit. */
  withheld: number
}

/**
 * Flagging: a listener that met at least FLAG_MIN_LEARNED peers (or its whole limit, if smaller:
 * below that there is too little to judge) and more than FLAG_PEERS_PER_SWARM peers per swarm in
 * which it made progress. A playing track needs about 3 peers, and the SDK, offering to 5 per
 * announce, rarely meets more than 8 in one; a collector that plays nothing meets peers in swarms
 * where it never progresses. A heavy seeder (left 0 in many swarms, met by those who offer to
 * it) looks the same: the flag asks an operator to look, it blocks nobody (the limit does).
 */
const FLAG_MIN_LEARNED = 16
const FLAG_PEERS_PER_SWARM = 8

export function isOutlier(learned: number, progressing: number, limit: number): boolean {
  return learned >= Math.min(limit, FLAG_MIN_LEARNED) && learned > FLAG_PEERS_PER_SWARM * progressing
}

export interface Exposure {
  readonly limit: number
  /**
   * Whether `a` may be paired with `b` (each a listener key, undefined for an exempt socket,
   * with the key the other side is known by): 'ok', or which side is at its limit.
   */
  check(a: string | undefined, aAsPeer: string, b: string | undefined, bAsPeer: string, at: number): 'ok' | 'first' | 'second'
  /** Records the pairing on both sides. */
  pair(a: string | undefined, aAsPeer: string, b: string | undefined, bAsPeer: string, at: number): void
  /** `n` pairings of `key` were not made: it was at its limit. */
  withheld(key: string, at: number, n: number): void
  progressed(key: string, infoHash: string, at: number): void
  report(at: number, top: number): ExposureReport
  /** Listeners changed since the last call: their packed state, or null when forgotten. */
  changes(epoch: number): Array<[string, PackedListener | null]>
  restore(saved: unknown[], epoch: number, at: number): void
  sweep(at: number): void
  readonly size: number
}

export function createExposure(options: { limit: number; windowMs: number; maxListeners: number }): Exposure {
  const { limit, windowMs, maxListeners } = options
  const listeners = new Map<string, Listener>()
  const dirty = new Set<string>()

  function prune(listener: Listener, at: number): void {
    for (const map of [listener.learned, listener.progress]) {
      for (const [k, t] of map) {
        if (at - t < windowMs) break
        map.delete(k)
      }
    }
  }

  /** The listener, pruned, made the most recently active (Map order); created when `create`. */
  function get(key: string, at: number, create: boolean): Listener | undefined {
    let listener = listeners.get(key)
    if (listener !== undefined) {
      listeners.delete(key)
      prune(listener, at)
    } else if (create) {
      listener = { learned: new Map(), progress: new Map(), withheld: 0 }
    } else {
      return undefined
    }
    listeners.set(key, listener)
    while (listeners.size > maxListeners) {
      const oldest = listeners.keys().next().value as string
      listeners.delete(oldest)
      dirty.add(oldest)
    }
    return listener
  }

  function hasRoom(key: string | undefined, peer: string, at: number): boolean {
    if (key === undefined) return true
    const listener = get(key, at, false)
    return listener === undefined || listener.learned.has(peer) || listener.learned.size < limit
  }

  function learn(key: string | undefined, peer: string, at: number): void {
    if (key === undefined) return
    const listener = get(key, at, true) as Listener
    listener.learned.delete(peer)
    listener.learned.set(peer, at)
    dirty.add(key)
  }

  function empty(listener: Listener): boolean {
    return listener.learned.size === 0 && listener.progress.size === 0
  }

  return {
    limit,
    get size() {
      return listeners.size
    },
    check(a, aAsPeer, b, bAsPeer, at) {
      if (!hasRoom(a, bAsPeer, at)) return 'first'
      if (!hasRoom(b, aAsPeer, at)) return 'second'
      return 'ok'
    },
    pair(a, aAsPeer, b, bAsPeer, at) {
      learn(a, bAsPeer, at)
      learn(b, aAsPeer, at)
    },
    withheld(key, at, n) {
      const listener = get(key, at, true) as Listener
      listener.withheld += n
      dirty.add(key)
    },
    progressed(key, infoHash, at) {
      const listener = get(key, at, true) as Listener
      listener.progress.delete(infoHash)
      listener.progress.set(infoHash, at)
      // Only the ratio matters, and past `limit` swarms no ratio flags anyone.
      if (listener.progress.size > limit) listener.progress.delete(listener.progress.keys().next().value as string)
      dirty.add(key)
    },
    report(at, top) {
      const all: ExposureListenerReport[] = []
      let atLimit = 0
      let flagged = 0
      for (const [key, listener] of listeners) {
        prune(listener, at)
        if (empty(listener)) continue
        const entry = {
          key,
          learned: listener.learned.size,
          progressing: listener.progress.size,
          withheld: listener.withheld,
          flagged: isOutlier(listener.learned.size, listener.progress.size, limit),
        }
        if (entry.learned >= limit) atLimit++
        if (entry.flagged) flagged++
        all.push(entry)
      }
      all.sort((x, y) => Number(y.flagged) - Number(x.flagged) || y.learned - x.learned)
      return { listeners: all.length, atLimit, flagged, top: all.slice(0, top) }
    },
    changes(epoch) {
      const out: Array<[string, PackedListener | null]> = []
      for (const key of dirty) {
        const listener = listeners.get(key)
        if (listener === undefined || empty(listener)) {
          out.push([key, null])
          continue
        }
        const learned: Array<string | number> = []
        for (const [peer, t] of listener.learned) learned.push(peer, t + epoch)
        const progress: Array<string | number> = []
        for (const [hash, t] of listener.progress) progress.push(hash, t + epoch)
        out.push([key, { key, learned, progress, withheld: listener.withheld }])
      }
      dirty.clear()
      return out
    },
    restore(saved, epoch, at) {
      for (const value of saved) {
        const packed = value as Partial<PackedListener> | null
        if (packed === null || typeof packed !== 'object' || typeof packed.key !== 'string' || !Array.isArray(packed.learned) || !Array.isArray(packed.progress)) continue
        const listener: Listener = { learned: new Map(), progress: new Map(), withheld: typeof packed.withheld === 'number' ? packed.withheld : 0 }
        for (const [list, map, cap] of [
          [packed.learned, listener.learned, limit],
          [packed.progress, listener.progress, limit],
        ] as const) {
          for (let i = 0; i + 1 < list.length && map.size < cap; i += 2) {
            const k = list[i]
            const t = list[i + 1]
            if (typeof k === 'string' && typeof t === 'number') map.set(k, t - epoch)
          }
        }
        prune(listener, at)
        if (!empty(listener)) listeners.set(packed.key, listener)
        // All aged out while the object slept: its storage entry goes at the next write.
        else dirty.add(packed.key)
      }
      while (listeners.size > maxListeners) listeners.delete(listeners.keys().next().value as string)
    },
    sweep(at) {
      for (const [key, listener] of listeners) {
        prune(listener, at)
        if (empty(listener)) {
          listeners.delete(key)
          dirty.add(key)
        }
      }
    },
  }
}
