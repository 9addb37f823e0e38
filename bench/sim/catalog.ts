import type { ChunkLayout } from '../../client-sdk/core.js'

/**
 * The simulated catalog: durations only (the bytes never exist), cut the way ingest cuts a
 * 160 kbit/s MP3 into 32 KiB chunks, so the scheduler sees the layout a real track has.
 */
const BITRATE_BYTES_PER_SEC = 160_000 / 8
export const CHUNK_BYTES = 32 * 1024
const CHUNK_MS = (CHUNK_BYTES / BITRATE_BYTES_PER_SEC) * 1000

export interface SimCatalog {
  count: number
  durationMs(track: number): number
  chunks(track: number): number
  chunkBytes(track: number, index: number): number
  layout(track: number): ChunkLayout
}

/** Durations of 2.5 to 5 minutes (popular music), drawn from `random`, by popularity rank. */
export function createSimCatalog(count: number, random: () => number): SimCatalog {
  const durations = new Float64Array(count)
  for (let i = 0; i < count; i++) durations[i] = Math.round(150_000 + random() * 150_000)
  const bytesOf = (t: number) => Math.round((durations[t]! / 1000) * BITRATE_BYTES_PER_SEC)
  const chunksOf = (t: number) => Math.ceil(bytesOf(t) / CHUNK_BYTES)
  const layouts = new Map<number, ChunkLayout>()
  return {
    count,
    durationMs: (t) => durations[t]!,
    chunks: chunksOf,
    chunkBytes: (t, i) => Math.min(CHUNK_BYTES, bytesOf(t) - i * CHUNK_BYTES),
    layout(t) {
      let l = layouts.get(t)
      if (!l) {
        const bytes = bytesOf(t)
        const count = chunksOf(t)
        const durationMs = durations[t]!
        l = { count, size: (i) => Math.min(CHUNK_BYTES, bytes - i * CHUNK_BYTES), startMs: (i) => Math.min(durationMs, i * CHUNK_MS), durationMs }
        // Only tracks being played need one; a few thousand at most.
        if (layouts.size > 50_000) layouts.clear()
        layouts.set(t, l)
      }
      return l
    },
  }
}
