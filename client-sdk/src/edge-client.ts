import {
  type Manifest,
  type ManifestVerifier,
  ProtocolError,
  chunkMatches,
  chunkPath,
  importManifestPublicKey,
  importTrackKey,
  manifestPath,
  parseErrorBody,
  verifySignedManifest,
} from '../../protocol/index.js'
import { ChorusError } from './errors.js'

/**
 * Talks to the edge over HTTP: manifests (signature checked), sessions, track keys and chunks
 * (hash checked). Stateless apart from the token and the verifier; `fetch` is injected so
 * tests and benchmarks can put a delaying transport in front of it.
 */
export interface EdgeClientOptions {
  edge: string
  fetch?: typeof fetch
  apiKey?: string
  token?: string
  /** The origin's Ed25519 public key (base64url). Without it the key is fetched from the edge once (trust on first use: pin it in production). */
  publicKey?: string
  timeoutMs?: number
}

export interface ChunkRef {
  trackId: string
  version: string
  bitrate: number
  index: number
  hash: string
}

export function createEdgeClient(options: EdgeClientOptions) {
  const base = options.edge.replace(/\/+$/, '')
  const doFetch = options.fetch ?? globalThis.fetch.bind(globalThis)
  const timeoutMs = options.timeoutMs ?? 8000
  let token = options.token
  let tokenExpires = Number.POSITIVE_INFINITY
  let verifier: Promise<ManifestVerifier> | undefined

  async function request(path: string, init: RequestInit = {}, signal?: AbortSignal): Promise<Response> {
    const timeout = AbortSignal.timeout(timeoutMs)
    const combined = signal ? AbortSignal.any([signal, timeout]) : timeout
    try {
      return await doFetch(`${base}${path}`, { ...init, signal: combined })
    } catch (err) {
      if (signal?.aborted) throw new ChorusError('stopped', 'request cancelled', { cause: err })
      throw new ChorusError('all_sources_down', `edge unreachable at ${base}: ${(err as Error).message}`, { cause: err })
    }
  }

  async function failure(res: Response, what: string): Promise<ChorusError> {
    let detail: ReturnType<typeof parseErrorBody>
    try {
      detail = parseErrorBody(await res.json())
    } catch {}
    const message = `${what}: ${res.status}${detail ? ` ${detail.code}: ${detail.message}` : ''}`
    if (res.status === 404) return new ChorusError('not_found', message)
    if (res.status === 401 || res.status === 403) return new ChorusError('unauthorized', message)
    return new ChorusError('all_sources_down', message)
  }

  function getVerifier(): Promise<ManifestVerifier> {
    verifier ??= (async () => {
      let key = options.publicKey
      if (!key) {
        const res = await request('/v1/origin-key')
        if (!res.ok) throw await failure(res, 'origin public key')
        key = ((await res.json()) as { publicKey: string }).publicKey
      }
      return importManifestPublicKey(key)
    })()
    verifier.catch(() => (verifier = undefined))
    return verifier
  }

  // One session request at a time, however many plays, prefetches and announces want a token.
  let pendingToken: Promise<string> | undefined

  function sessionToken(signal?: AbortSignal): Promise<string> {
    if (token && Date.now() < tokenExpires - 60_000) return Promise.resolve(token)
    if (!options.apiKey) {
      if (token) return Promise.resolve(token)
      return Promise.reject(new ChorusError('unauthorized', 'no token and no apiKey: pass one to createClient'))
    }
    pendingToken ??= (async () => {
      const res = await request('/v1/session', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ apiKey: options.apiKey }) })
      if (!res.ok) throw await failure(res, 'session')
      const body = (await res.json()) as { token: string; expiresAt: string }
      token = body.token
      tokenExpires = Date.parse(body.expiresAt)
      return token
    })().finally(() => (pendingToken = undefined))
    return signal ? abortable(pendingToken, signal) : pendingToken
  }

  async function keyRequest(trackId: string, version: string | undefined, signal?: AbortSignal): Promise<{ version: string; key: CryptoKey }> {
    const auth = await sessionToken(signal)
    const res = await request(`/v1/tracks/${trackId}/key${version === undefined ? '' : `?version=${version}`}`, { headers: { authorization: `Bearer ${auth}` } }, signal)
    if (!res.ok) {
      const err = await failure(res, `key of ${trackId}`)
      throw res.status === 401 || res.status === 403 ? new ChorusError('no_key', err.message) : err
    }
    const body = (await res.json()) as { version: string; key: string }
    return { version: body.version, key: await importTrackKey(body.key) }
  }

  return {
    base,
    sessionToken,
    async catalog(signal?: AbortSignal): Promise<Array<{ trackId: string; title: string; artist: string; album: string; durationMs: number; bitrates: number[] }>> {
      const res = await request('/v1/tracks', {}, signal)
      if (!res.ok) throw await failure(res, 'catalog')
      return ((await res.json()) as { tracks: [] }).tracks
    },
    /** The verified manifest and its raw document (what a cache keeps). */
    async manifest(trackId: string, signal?: AbortSignal): Promise<{ manifest: Manifest; doc: unknown }> {
      const [res, v] = await Promise.all([request(manifestPath(trackId), {}, signal), getVerifier()])
      if (!res.ok) throw await failure(res, `manifest of ${trackId}`)
      const doc = await res.json()
      return { manifest: await verifyDoc(doc, v), doc }
    },
    async verifyManifestDoc(doc: unknown): Promise<Manifest> {
      return verifyDoc(doc, await getVerifier())
    },
    async trackKey(trackId: string, version: string, signal?: AbortSignal): Promise<CryptoKey> {
      return (await keyRequest(trackId, version, signal)).key
    },
    /**
     * The key of the track's current version, and which version that is: asked for alongside the
     * manifest, before its version is known, to save a round trip on a cold play.
     */
    currentKey(trackId: string, signal?: AbortSignal): Promise<{ version: string; key: CryptoKey }> {
      return keyRequest(trackId, undefined, signal)
    },
    /** One encrypted chunk, checked against its hash; a mismatch is an error, never returned bytes. */
    async chunk(ref: ChunkRef, signal?: AbortSignal): Promise<Uint8Array> {
      const headers: Record<string, string> = {}
      if (token) headers.authorization = `Bearer ${token}`
      const res = await request(chunkPath(ref), { headers }, signal)
      if (!res.ok) throw await failure(res, `chunk ${ref.index}`)
      const bytes = new Uint8Array(await res.arrayBuffer())
      if (!(await chunkMatches(bytes, ref.hash))) throw new ChorusError('all_sources_down', `chunk ${ref.index} from the edge failed its hash check`)
      return bytes
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

async function verifyDoc(doc: unknown, v: ManifestVerifier): Promise<Manifest> {
  try {
    return await verifySignedManifest(doc, v)
  } catch (err) {
    if (err instanceof ProtocolError) throw new ChorusError('invalid_manifest', err.message, { cause: err })
    throw err
  }
}

export type EdgeClient = ReturnType<typeof createEdgeClient>
