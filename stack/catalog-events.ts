import type { IngestResult } from '../origin/index.js'

/** What the background catalog build reports, as printed: a JSON line (--json, stdout) and a human line (stderr). */
export type CatalogEvent =
  | { kind: 'track'; track: Pick<IngestResult, 'trackId' | 'title' | 'durationMs' | 'codec'>; done: number; total: number; tracks: number; ms: number }
  | { kind: 'complete'; tracks: number; ms: number; built: number }
  | { kind: 'failed'; error: string; tracks: number; ms: number }
  | { kind: 'stopped'; tracks: number; missing: number; ms: number }

function formatDuration(ms: number): string {
  const s = Math.round(ms / 1000)
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`
}

export function catalogJson(e: CatalogEvent): Record<string, unknown> {
  const ms = Math.round(e.ms)
  switch (e.kind) {
    case 'track':
      return { catalog: 'track', trackId: e.track.trackId, title: e.track.title, durationMs: e.track.durationMs, codec: e.track.codec, done: e.done, of: e.total, tracks: e.tracks, ms }
    case 'complete':
      return { catalog: 'complete', tracks: e.tracks, ms }
    case 'failed':
      return { catalog: 'failed', error: e.error, tracks: e.tracks, ms }
    case 'stopped':
      return { catalog: 'stopped', tracks: e.tracks, missing: e.missing, ms }
  }
}

export function catalogText(e: CatalogEvent): string {
  const at = `${(e.ms / 1000).toFixed(1)} s`
  switch (e.kind) {
    case 'track':
      return `demo ${String(e.done).padStart(String(e.total).length)}/${e.total} ready: ${e.track.trackId}  ${formatDuration(e.track.durationMs)}  ${e.track.title}  (at ${at})`
    case 'complete':
      return e.built > 0 ? `demo catalog complete: ${e.tracks} tracks, at ${at}` : `catalog: ${e.tracks} tracks`
    case 'failed':
      return `demo catalog failed after ${e.tracks} track(s): ${e.error}; the servers go on, and the next start tries the missing tracks again`
    case 'stopped':
      return `demo catalog stopped with ${e.missing} track(s) to go; the next start goes on with them`
  }
}
