import type { Manifest, QualityManifest } from '../../protocol/index.js'

export type QualityChoice = 'auto' | number

/**
 * The quality to play. A number picks that bitrate (or the nearest one below it, or the lowest).
 * 'auto' keeps a quality already cached (it plays without fetching), otherwise takes the highest
 * bitrate the measured throughput carries with a margin of 2x, or the middle one before any
 * measurement.
 */
export function chooseQuality(manifest: Manifest, choice: QualityChoice, throughputBps: number | undefined, cachedBitrates: number[] = []): QualityManifest {
  const qs = manifest.qualities
  if (choice !== 'auto') {
    return [...qs].reverse().find((q) => q.bitrate <= choice) ?? qs[0]!
  }
  const cached = [...qs].reverse().find((q) => cachedBitrates.includes(q.bitrate))
  if (cached) return cached
  if (throughputBps === undefined) return qs[Math.floor((qs.length - 1) / 2)]!
  const fits = [...qs].reverse().find((q) => ((q.bitrate * 1000) / 8) * 2 <= throughputBps)
  return fits ?? qs[0]!
}
