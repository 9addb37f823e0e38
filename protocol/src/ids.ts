import { ProtocolError } from './errors.js'

/**
 * Identifiers that appear in URLs and file paths. They are deliberately narrow (lowercase
 * letters, digits, '-' and '_') so that no id can name a path outside its directory or need
 * escaping in a URL.
 */
const TRACK_ID = /^[a-z0-9][a-z0-9_-]{0,63}$/
const VERSION = /^[a-z0-9]{4,40}$/

export function isTrackId(value: unknown): value is string {
  return typeof value === 'string' && TRACK_ID.test(value)
}

export function isVersion(value: unknown): value is string {
  return typeof value === 'string' && VERSION.test(value)
}

/** Bitrates in kbit/s. The encoder makes 96/160/320; an ingested MP3 keeps its own bitrate. */
export const STANDARD_BITRATES = [96, 160, 320] as const

export function isBitrate(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 8 && value <= 640
}

export function assertTrackId(value: unknown): string {
  if (!isTrackId(value)) {
    throw new ProtocolError('invalid_id', `invalid track id ${JSON.stringify(String(value)).slice(0, 80)}: use 1-64 of a-z, 0-9, '-' and '_', starting with a letter or digit`)
  }
  return value
}

export function assertVersion(value: unknown): string {
  if (!isVersion(value)) {
    throw new ProtocolError('invalid_id', `invalid version ${JSON.stringify(String(value)).slice(0, 80)}: use 4-40 of a-z and 0-9`)
  }
  return value
}

/** Turns a file name or title into a track id ("My Song (live).wav" -> "my-song-live"). */
export function slugify(text: string): string {
  const slug = text
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 64)
    .replace(/-+$/, '')
  return slug.length > 0 ? slug : 'track'
}

/**
 * A new version id: the time in base 36 (so versions sort by creation) and random bits (so two
 * ingests in the same millisecond differ).
 */
export function newVersion(now: number, random: Uint8Array): string {
  let tail = ''
  for (const b of random.subarray(0, 4)) tail += b.toString(36).padStart(2, '0')
  return `${Math.floor(now).toString(36).padStart(9, '0')}${tail}`
}
