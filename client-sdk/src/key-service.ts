import { MAX_BATCH_KEYS, MAX_SESSION_KEYS, type ManifestVerifier, type SessionKeyEntry, fromBase64Url, importManifestPublicKey, importTrackKey, keyPath } from '../../protocol/index.js'
import { ChorusError } from './errors.js'
import { createHttpService } from './http.js'

/**
 * The key service (the origin today): session tokens (`POST /v1/session`), track keys
 * (`GET /v1/tracks/:id/key`) and, when no key is pinned, the manifest-signing public key
 * (`GET /v1/origin-key`). Kept apart from the edge client so that keys and tokens need not pass
 * through a caching edge: the client's `keys` option (required) points here, and nothing sends
 * these requests to the edge.
 *
 * A session answer gives one token per service (`tokens.keys`, `.edge`, `.tracker`) or, from an
 * older origin, one `token` for all. Tokens are asked for again before they expire (a quarter of
 * their life ahead, at most a minute), renewing the session (`renew`: the keys token held), so
 * the new tokens keep the origin-chosen subject and the tracker takes them as the same
 * listener's. A session that cannot be renewed (its token ran out while the app slept) is
 * replaced by a new one.
 *
 * A session request waits one turn of the event loop before it leaves: the current keys asked
 * for meanwhile (a play begun right after createClient) ride in it (`"keys": [...]`), so a cold
 * play's session and key are one round trip, not two in a row (a cached play's key too, when the
 * answer names the cached version). `POST /v1/keys` gives many tracks' current keys at once (the
 * client renews its cached tracks' keys with it).
 */
export interface KeyServiceOptions {
  base: string
  fetch?: typeof fetch
  timeoutMs?: number
  apiKey?: string
  /** A session token the app obtained itself (used for every service; not renewable here). */
  token?: string
  /** The pinned manifest-signing key (base64url); without it the service is asked once. */
  publicKey?: string
}

interface SessionTokens {
  keys: string
  edge: string
  tracker: string
  /** ms since the epoch; Infinity when unknown. */
  expiresAt: number
}

/** The `exp` of a JWT, in ms, or Infinity when it cannot be read (the service decides anyway). */
export function tokenExpiry(token: string): number {
  try {
    const payload = JSON.parse(new TextDecoder().decode(fromBase64Url(token.split('.')[1] ?? ''))) as { exp?: unknown }
    return typeof payload.exp === 'number' ? payload.exp * 1000 : Number.POSITIVE_INFINITY
  } catch {
    return Number.POSITIVE_INFINITY
  }
}

/** One track key: the version it opens, the key, and its base64url text (what a lease keeps). */
export interface TrackKey {
  version: string
  key: CryptoKey
  raw: string
}

/** The key service as the SDK sees it: one session per client, renewed before it expires. */
export interface KeyService {
  /** The service's base URL, without a trailing slash. */
  readonly base: string
  /**
   * The session's tokens: the ones held while they are good for a while yet, else a new
   * session's (one request shared by every caller). `fresh` asks for a new session whatever the
   * clock says (a service refused them). Rejects `unauthorized` with neither apiKey nor token.
   */
  tokens(opts?: { fresh?: boolean; signal?: AbortSignal }): Promise<SessionTokens>
  /** The edge's token if one is held now (chunk requests do not wait for a session). */
  edgeToken(): string | undefined
  /** The manifest-signing key: the pinned one, else asked of this service once (again after a failure). */
  verifier(): Promise<ManifestVerifier>
  /**
   * The key of one track version; `no_key` when the service refuses it or answers for another track
   * or version. In a session request about to leave, when its answer names this version.
   */
  trackKey(trackId: string, version: string, signal?: AbortSignal): Promise<TrackKey>
  /**
   * The key of the track's current version, and which version that is (asked alongside the
   * manifest on a cold play): in the session request when one is about to leave, else on its own.
   */
  currentKey(trackId: string, signal?: AbortSignal): Promise<TrackKey>
  /**
   * The current keys of many tracks in one request (`POST /v1/keys`, at most MAX_BATCH_KEYS):
   * those the service gave; a track it refused is left out.
   */
  currentKeys(trackIds: readonly string[], signal?: AbortSignal): Promise<Array<TrackKey & { trackId: string }>>
  /** Whether the current key of `trackId`, asked now, would ride in a session request that has not left yet. */
  boarding(trackId: string): boolean
  /** Sessions asked for so far (tests count them). */
  readonly sessions: number
}

export function createKeyService(options: KeyServiceOptions): KeyService {
  const http = createHttpService({ base: options.base, name: 'key service', ...(options.fetch && { fetch: options.fetch }), ...(options.timeoutMs !== undefined && { timeoutMs: options.timeoutMs }) })
  const given = options.token
  let current: (SessionTokens & { renewAt: number }) | undefined = given ? { keys: given, edge: given, tracker: given, expiresAt: tokenExpiry(given), renewAt: Number.POSITIVE_INFINITY } : undefined
  let pending: Promise<SessionTokens> | undefined
  let verifier: Promise<ManifestVerifier> | undefined
  let sessions = 0
  /** Current keys to ask for in the session request that has not left yet (each with its waiters). */
  let riding: Map<string, Array<(entry: SessionKeyEntry | undefined) => void>> | undefined

  function session(): Promise<SessionTokens> {
    pending ??= (async () => {
      const batch = new Map<string, Array<(entry: SessionKeyEntry | undefined) => void>>()
      riding = batch
      let answered: SessionKeyEntry[] = []
      try {
        // One turn of the event loop for plays begun meanwhile to add their keys.
        await new Promise((resolve) => setTimeout(resolve, 0))
        riding = undefined
        sessions++
        const keys = [...batch.keys()]
        const ask = (renew: string | undefined) =>
          http.request('/v1/session', {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ apiKey: options.apiKey, ...(renew && { renew }), ...(keys.length > 0 && { keys }) }),
          })
        const renewable = current && current.keys !== given ? current.keys : undefined
        let res = await ask(renewable)
        if (renewable && (res.status === 401 || res.status === 403)) res = await ask(undefined)
        if (!res.ok) throw await http.failure(res, 'session')
        const body = (await res.json()) as { token: string; tokens?: { keys?: string; edge?: string; tracker?: string }; expiresAt: string; keys?: SessionKeyEntry[] }
        if (Array.isArray(body.keys)) answered = body.keys.filter((e) => e && typeof e.trackId === 'string')
        return adopt(body)
      } finally {
        riding = undefined
        // Waiters without an answer (no key in it, or no session) ask on their own.
        for (const [trackId, waiters] of batch) for (const w of waiters) w(answered.find((e) => e?.trackId === trackId))
      }
    })().finally(() => (pending = undefined))
    return pending
  }

  /** A session answer's tokens become the held ones; renewed a quarter of their life ahead (at most a minute). */
  function adopt(body: { token: string; tokens?: { keys?: string; edge?: string; tracker?: string }; expiresAt: string }): SessionTokens {
    const at = Date.now()
    const expiresAt = Date.parse(body.expiresAt)
    const life = Number.isFinite(expiresAt) ? Math.max(0, expiresAt - at) : Number.POSITIVE_INFINITY
    current = {
      keys: body.tokens?.keys ?? body.token,
      edge: body.tokens?.edge ?? body.token,
      tracker: body.tokens?.tracker ?? body.token,
      expiresAt: Number.isFinite(expiresAt) ? expiresAt : Number.POSITIVE_INFINITY,
      renewAt: at + life - Math.min(60_000, life / 4),
    }
    return current
  }

  const sessionDue = () => options.apiKey !== undefined && (!current || Date.now() >= current.renewAt)
  const seats = (batch: NonNullable<typeof riding>, trackId: string) => batch.has(trackId) || batch.size < MAX_SESSION_KEYS

  /** The session request about to leave, when a new session is due: the one a current key can ride in. */
  function boardingSession(): typeof riding {
    if (!sessionDue()) return undefined
    if (!pending) void session().catch(() => {})
    return riding
  }

  async function ride(trackId: string, batch: NonNullable<typeof riding>): Promise<TrackKey | undefined> {
    const entry = await new Promise<SessionKeyEntry | undefined>((resolve) => {
      const waiters = batch.get(trackId) ?? []
      waiters.push(resolve)
      batch.set(trackId, waiters)
    })
    return toTrackKey(entry)
  }

  async function toTrackKey(entry: SessionKeyEntry | undefined): Promise<TrackKey | undefined> {
    if (!entry || !('key' in entry) || typeof entry.key !== 'string' || typeof entry.version !== 'string') return undefined
    return { version: entry.version, key: await importTrackKey(entry.key), raw: entry.key }
  }

  /**
   * The session's tokens: the ones held while they are good for a while yet, else a new
   * session's. `fresh` asks for a new session whatever the clock says (a service refused them).
   */
  function tokens(opts: { fresh?: boolean; signal?: AbortSignal } = {}): Promise<SessionTokens> {
    if (current && !opts.fresh && Date.now() < current.renewAt) return Promise.resolve(current)
    if (!options.apiKey) {
      if (current) return Promise.resolve(current)
      return Promise.reject(new ChorusError('unauthorized', 'no token and no apiKey: pass one to createClient'))
    }
    const p = session()
    return opts.signal ? abortable(p, opts.signal) : p
  }

  /**
   * A request under the session's keys token; an expired token (clocks disagree, or the app's
   * token ran out) is tried once more with a new session.
   */
  async function withKeysToken(send: (auth: string) => Promise<Response>, signal?: AbortSignal): Promise<Response> {
    for (let attempt = 0; ; attempt++) {
      const res = await send((await tokens({ fresh: attempt > 0, ...(signal && { signal }) })).keys)
      if (res.status === 401 && attempt === 0 && options.apiKey) continue
      return res
    }
  }

  async function keyRequest(trackId: string, version: string | undefined, signal?: AbortSignal): Promise<TrackKey> {
    const res = await withKeysToken((auth) => http.request(keyPath(trackId, version), { headers: { authorization: `Bearer ${auth}` } }, signal), signal)
    if (!res.ok) {
      const err = await http.failure(res, `key of ${trackId}`)
      throw res.status === 401 || res.status === 403 ? new ChorusError('no_key', err.message) : err
    }
    const body = (await res.json()) as { trackId?: string; version: string; key: string }
    if ((body.trackId !== undefined && body.trackId !== trackId) || (version !== undefined && body.version !== version)) {
      throw new ChorusError('no_key', `the key service answered for ${body.trackId ?? trackId} version ${body.version}, not what was asked`)
    }
    return { version: body.version, key: await importTrackKey(body.key), raw: body.key }
  }

  return {
    base: http.base,
    tokens,
    edgeToken: () => current?.edge,
    verifier() {
      verifier ??= (async () => {
        let key = options.publicKey
        if (!key) {
          const res = await http.request('/v1/origin-key')
          if (!res.ok) throw await http.failure(res, 'origin public key')
          key = ((await res.json()) as { publicKey: string }).publicKey
        }
        return importManifestPublicKey(key)
      })()
      verifier.catch(() => (verifier = undefined))
      return verifier
    },
    async trackKey(trackId, version, signal) {
      // A session request about to leave carries the current key: taken when it names this
      // version (else the version is asked for on its own).
      const batch = boardingSession()
      const entry = batch && seats(batch, trackId) ? await ride(trackId, batch) : undefined
      if (entry?.version === version) return entry
      return keyRequest(trackId, version, signal)
    },
    async currentKeys(trackIds, signal) {
      const ids = trackIds.slice(0, MAX_BATCH_KEYS)
      if (ids.length === 0) return []
      const res = await withKeysToken(
        (auth) => http.request('/v1/keys', { method: 'POST', headers: { authorization: `Bearer ${auth}`, 'content-type': 'application/json' }, body: JSON.stringify({ tracks: ids }) }, signal),
        signal,
      )
      if (!res.ok) throw await http.failure(res, 'track keys')
      const body = (await res.json()) as { keys?: unknown }
      const entries = Array.isArray(body.keys) ? (body.keys as SessionKeyEntry[]) : []
      const out: Array<TrackKey & { trackId: string }> = []
      for (const e of entries) {
        const k = e && ids.includes(e.trackId) ? await toTrackKey(e).catch(() => undefined) : undefined
        if (k) out.push({ ...k, trackId: e.trackId })
      }
      return out
    },
    async currentKey(trackId, signal) {
      const batch = boardingSession()
      if (batch && seats(batch, trackId)) {
        const rode = await ride(trackId, batch)
        if (rode) return rode
      }
      return keyRequest(trackId, undefined, signal)
    },
    boarding(trackId) {
      if (!sessionDue()) return false
      // No session under way: asking starts one, which waits a turn for riders.
      if (!pending) return true
      return riding !== undefined && seats(riding, trackId)
    },
    get sessions() {
      return sessions
    },
  }
}

/** `p`, or a 'stopped' error as soon as `signal` aborts (p itself runs on for its other users). */
function abortable<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(new ChorusError('stopped', 'request cancelled'))
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new ChorusError('stopped', 'request cancelled'))
    signal.addEventListener('abort', onAbort, { once: true })
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort))
  })
}
