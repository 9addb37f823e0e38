import type { ErrorBody } from './errors.js'

/**
 * What a session answer carries besides its tokens when the request named tracks in `keys`
 * (`POST /v1/session {"apiKey", "keys": ["track", ...]}`): the key of each one's current version,
 * so that a cold play's session and key are one round trip to the key service, not two in a row.
 * A track the session may not play, or that has no key, gets its error instead; the session
 * itself is still issued.
 */
export const MAX_SESSION_KEYS = 16

/**
 * The most track keys one `POST /v1/keys {"tracks": [...]}` asks for: a client's cache at the
 * SDK's default size holds about 57 tracks, whose keys it renews in one request once its first
 * audio is out (their leases ran out while it was away), so that none of them waits on the key
 * service when it is played. Each entry is a key or that track's error, as in a session answer.
 */
export const MAX_BATCH_KEYS = 64

/** One track key as the key service gives it (also the body of `GET /v1/tracks/:id/key`). */
export interface TrackKeyAnswer {
  trackId: string
  version: string
  alg: 'AES-128-CTR'
  /** 16 bytes, base64url. */
  key: string
}

export type SessionKeyEntry = TrackKeyAnswer | ({ trackId: string } & ErrorBody)
