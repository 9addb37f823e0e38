import { CHUNK_BYTES } from './catalog.js'
import type { ListenerCache } from './types.js'

/**
 * A listener's local cache: chunks held per track, LRU by track and bounded in bytes (the SDK's
 * is LRU by chunk; at the scale of tracks the difference does not show). Its size is the SDK's
 * default (createClient's `cache.maxBytes`).
 */
export const CACHE_MAX_BYTES = 256 * 1024 * 1024

export function createCache(): ListenerCache {
  return { tracks: new Map(), bytes: 0 }
}

export function cacheHas(c: ListenerCache, track: number, index: number): boolean {
  return c.tracks.get(track)?.[index] === 1
}

export function cacheHeld(c: ListenerCache, track: number): number[] {
  const held = c.tracks.get(track)
  const out: number[] = []
  if (held) for (let i = 0; i < held.length; i++) if (held[i] === 1) out.push(i)
  return out
}

export function cacheCount(c: ListenerCache, track: number): number {
  const held = c.tracks.get(track)
  let n = 0
  if (held) for (let i = 0; i < held.length; i++) n += held[i]!
  return n
}

/** Marks the track most recently used. */
export function cacheTouch(c: ListenerCache, track: number): void {
  const held = c.tracks.get(track)
  if (!held) return
  c.tracks.delete(track)
  c.tracks.set(track, held)
}

export function cachePut(c: ListenerCache, track: number, index: number, chunks: number): void {
  let held = c.tracks.get(track)
  if (!held) {
    held = new Uint8Array(chunks)
    c.tracks.set(track, held)
    c.onTrack?.(track, true)
  }
  if (held[index] === 1) return
  held[index] = 1
  c.bytes += CHUNK_BYTES
  while (c.bytes > CACHE_MAX_BYTES) {
    const [oldest, chunksHeld] = c.tracks.entries().next().value as [number, Uint8Array]
    if (oldest === track) break
    c.tracks.delete(oldest)
    c.onTrack?.(oldest, false)
    for (const b of chunksHeld) if (b === 1) c.bytes -= CHUNK_BYTES
  }
  c.onStore?.(CHUNK_BYTES)
}

/** A whole track (or its first `upTo` chunks), as a listener's history leaves it. */
export function cacheFill(c: ListenerCache, track: number, chunks: number, upTo = chunks): void {
  for (let i = 0; i < Math.min(upTo, chunks); i++) cachePut(c, track, i, chunks)
}
