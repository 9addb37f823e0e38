import type { QualityManifest } from '../../../protocol/index.js'

/**
 * How consecutive tracks join: gapless (encoder priming and padding trimmed, so the last sample
 * of one track is followed by the first sample of the next) or crossfaded (the next track starts
 * `crossfadeSec` before the current one ends, under equal-power gain curves). Pure timeline
 * arithmetic: the web player turns it into Media Source Extensions settings and gain ramps; a
 * renderer of decoded samples (`chorus play A B --out x.wav`) applies it to PCM.
 */
export interface TrackTiming {
  sampleRate: number
  /** Samples the decoder puts out before the real audio (encoder priming), to drop. */
  delay: number
  /** Samples of real audio after the delay; whatever follows is padding, to drop. */
  samples: number
}

export const MAX_CROSSFADE_SEC = 12

/** A track's timing from its quality. MP3 masters carry no gapless data: the whole decoded length counts. */
export function trackTiming(quality: QualityManifest, durationMs: number): TrackTiming {
  if (quality.codec === 'aac') return { sampleRate: quality.sampleRate, delay: quality.delay, samples: quality.samples }
  return { sampleRate: quality.sampleRate, delay: 0, samples: Math.round((durationMs / 1000) * quality.sampleRate) }
}

export const durationSec = (t: TrackTiming): number => t.samples / t.sampleRate

/** A crossfade length within 0..12 s; anything else (NaN, negative) is 0. */
export function clampCrossfade(sec: number): number {
  return Number.isFinite(sec) && sec > 0 ? Math.min(sec, MAX_CROSSFADE_SEC) : 0
}

/**
 * Where one track goes on a Media Source timeline, with its first real sample at `at` seconds:
 * the SourceBuffer's timestampOffset shifts the priming before `at`, and the append window
 * drops the priming and the padding. In 'segments' mode a fragment lands at its own decode
 * time plus the offset, so a stream that starts at a later fragment (after a seek) lands right too.
 */
export interface AppendPlan {
  timestampOffset: number
  appendWindowStart: number
  appendWindowEnd: number
  /** Where this track's audio starts and ends on the timeline, seconds. */
  startsAt: number
  endsAt: number
}

export function appendPlan(timing: TrackTiming, at: number): AppendPlan {
  const endsAt = at + durationSec(timing)
  return { timestampOffset: at - timing.delay / timing.sampleRate, appendWindowStart: at, appendWindowEnd: endsAt, startsAt: at, endsAt }
}

/**
 * When the next track starts, relative to the start of the current one (seconds): at the
 * current one's end, or `crossfadeSec` earlier (never before the current track's middle, so a
 * short track is not swallowed by the fade).
 */
export function nextStartSec(current: TrackTiming, crossfadeSec: number): number {
  const d = durationSec(current)
  return Math.max(d / 2, d - clampCrossfade(crossfadeSec))
}

/** The effective fade length between two tracks: bounded by half of either. */
export function fadeSec(current: TrackTiming, next: TrackTiming, crossfadeSec: number): number {
  return Math.min(clampCrossfade(crossfadeSec), durationSec(current) / 2, durationSec(next) / 2)
}

/** Equal-power gains `t` seconds into a fade of `fade` seconds: constant loudness for uncorrelated music. */
export function crossfadeGains(t: number, fade: number): { out: number; in: number } {
  if (!(fade > 0)) return t < 0 ? { out: 1, in: 0 } : { out: 0, in: 1 }
  const x = Math.max(0, Math.min(1, t / fade))
  return { out: Math.cos((x * Math.PI) / 2), in: Math.sin((x * Math.PI) / 2) }
}

/** Decoded samples of one track with priming and padding dropped (per channel). */
export function trimDecoded(channels: readonly Float32Array[], timing: TrackTiming): Float32Array[] {
  return channels.map((c) => c.subarray(Math.min(timing.delay, c.length), Math.min(timing.delay + timing.samples, c.length)))
}

/**
 * Joins trimmed tracks into one signal: end to end when `fadeSamples` is 0, else each join
 * overlaps by up to that many samples under equal-power curves. All tracks share one rate and
 * channel count.
 */
export function joinTracks(tracks: readonly (readonly Float32Array[])[], fadeSamples = 0): Float32Array[] {
  if (tracks.length === 0) return []
  const channelCount = tracks[0]!.length
  const fades = tracks.slice(1).map((t, i) => Math.max(0, Math.min(fadeSamples, Math.floor(tracks[i]![0]!.length / 2), Math.floor(t[0]!.length / 2))))
  const total = tracks.reduce((n, t) => n + t[0]!.length, 0) - fades.reduce((n, f) => n + f, 0)
  const out = Array.from({ length: channelCount }, () => new Float32Array(total))
  let at = 0
  tracks.forEach((track, ti) => {
    const fadeIn = ti > 0 ? fades[ti - 1]! : 0
    const fadeOut = ti < fades.length ? fades[ti]! : 0
    const length = track[0]!.length
    for (let c = 0; c < channelCount; c++) {
      const src = track[c] ?? track[0]!
      const dst = out[c]!
      for (let i = 0; i < length; i++) {
        let g = 1
        if (i < fadeIn) g *= crossfadeGains(i, fadeIn).in
        if (i >= length - fadeOut) g *= crossfadeGains(i - (length - fadeOut), fadeOut).out
        dst[at + i]! += src[i]! * g
      }
    }
    at += length - fadeOut
  })
  return out
}
