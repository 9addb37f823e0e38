import type { ErrorBody } from './errors.js'

/**
 * What a session answer carries besides its tokens when the request named tracks in `keys`
 * (`POST /v1/session {"apiKey", "keys": ["track", ...]}`): the key of each one's current version,
 * so that a cold play's session and key are one round trip to the key service, not two in a row.
 * A track the session may not play, or that has no key, gets its error instead; the session
 * itself is still issued.
 */
export const MAX_SESSION_KEYS = 16

/** One track key as the key service gives it (also the body of `GET /v1/tracks/:id/key`). */
export interface TrackKeyAnswer {
  trackId: string
  version: string
  alg: 'AES-128-CTR'
  /** 16 bytes, base64url. */
  key: string
}

export type SessionKeyEntry = TrackKeyAnswer | ({ trackId: string } & ErrorBody)
