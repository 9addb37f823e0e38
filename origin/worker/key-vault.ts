import { ProtocolError, isTrackId, isVersion } from '../../protocol/index.js'
import { type WrappedTrackKey, unwrapTrackKey, wrapTrackKey } from '../src/key-wrap.js'
import type { TrackKeyReader, TrackKeyWriter } from '../src/storage.js'

/**
 * The key service's storage: a Durable Object per track holding that track's keys, one per
 * version, wrapped (src/key-wrap.ts) under KEY_WRAPPING_KEY, which only the Worker holds. So
 * neither the bucket (no keys at all) nor the object's storage (wrapped keys only) opens a
 * chunk; the Worker unwraps a key for a request with a valid `play` token and answers
 * `no-store, private`. One object per track: key reads spread over many objects instead of one.
 *
 * The object speaks a tiny internal protocol the Worker alone reaches (a binding, no route):
 * GET /<version> -> the record or 404; PUT /<version> with a record -> 201, or 409 with the
 * record already there (a version's key never changes; the Worker decides whether the two agree).
 */

/** The part of the Durable Object state this class uses. */
interface DurableObjectStateLike {
  storage: {
    get<T>(key: string): Promise<T | undefined>
    put(key: string, value: unknown): Promise<void>
  }
}

function isRecord(value: unknown): value is WrappedTrackKey {
  const r = value as Partial<WrappedTrackKey> | null
  return typeof r === 'object' && r !== null && r.v === 1 && typeof r.iv === 'string' && typeof r.ct === 'string' && r.iv.length < 64 && r.ct.length < 256
}

export class KeyVault {
  readonly #storage: DurableObjectStateLike['storage']

  constructor(state: DurableObjectStateLike) {
    this.#storage = state.storage
  }

  async fetch(request: Request): Promise<Response> {
    const version = new URL(request.url).pathname.slice(1)
    if (!isVersion(version)) return new Response(null, { status: 400 })
    if (request.method === 'GET') {
      const record = await this.#storage.get<WrappedTrackKey>(`key:${version}`)
      return record ? Response.json(record) : new Response(null, { status: 404 })
    }
    if (request.method === 'PUT') {
      const record = (await request.json().catch(() => undefined)) as unknown
      if (!isRecord(record)) return new Response(null, { status: 400 })
      // The read and the write run without another request between them (the object's input
      // gate), so two uploads of one version cannot both think they were first.
      const existing = await this.#storage.get<WrappedTrackKey>(`key:${version}`)
      if (existing) return Response.json(existing, { status: 409 })
      await this.#storage.put(`key:${version}`, { v: record.v, iv: record.iv, ct: record.ct })
      return new Response(null, { status: 201 })
    }
    return new Response(null, { status: 405 })
  }
}

/** The part of a Durable Object namespace binding the Worker uses. */
export interface DurableObjectNamespaceLike {
  idFromName(name: string): unknown
  get(id: never): { fetch(input: string, init?: RequestInit): Promise<Response> }
}

/** Wrapped records one isolate keeps (each ~100 bytes). */
const MEMO_RECORDS = 10_000

/**
 * The Worker's side: reads and writes keys in the vault, wrapping and unwrapping them itself.
 *
 * The Worker runs in every location that takes requests; a track's KeyVault object lives in
 * one. So that a key read does not cross to the object's location every time, each isolate
 * keeps the wrapped records it read (a version's key never changes: write-once), in its own
 * memory, never in a cache another Worker or the edge can read. They stay wrapped: only the
 * Worker's KEY_WRAPPING_KEY opens them, as in the object's storage.
 */
export function createVaultKeys(namespace: DurableObjectNamespaceLike, wrapping: CryptoKey): TrackKeyReader & TrackKeyWriter {
  const vault = (trackId: string) => namespace.get(namespace.idFromName(`track:${trackId}`) as never)
  const memo = new Map<string, WrappedTrackKey>()

  async function read(trackId: string, version: string): Promise<WrappedTrackKey | undefined> {
    const id = `${trackId}/${version}`
    const held = memo.get(id)
    if (held) return held
    const res = await vault(trackId).fetch(`https://vault/${version}`)
    // A 404 is not kept: the key may be uploaded next.
    if (res.status === 404) return undefined
    if (!res.ok) throw new Error(`key vault: ${res.status}`)
    const record = (await res.json()) as WrappedTrackKey
    memo.set(id, record)
    if (memo.size > MEMO_RECORDS) memo.delete(memo.keys().next().value!)
    return record
  }

  return {
    async trackKey(trackId, version) {
      if (!isTrackId(trackId) || !isVersion(version)) return undefined
      const record = await read(trackId, version)
      return record ? unwrapTrackKey(wrapping, trackId, version, record) : undefined
    },
    async putTrackKey(trackId, version, keyB64) {
      const record = await wrapTrackKey(wrapping, trackId, version, keyB64)
      const res = await vault(trackId).fetch(`https://vault/${version}`, { method: 'PUT', body: JSON.stringify(record) })
      if (res.status === 201) return
      if (res.status === 409) {
        // A retried upload of the same key succeeds; another key for a published version never does.
        const existing = (await res.json()) as WrappedTrackKey
        if ((await unwrapTrackKey(wrapping, trackId, version, existing)) === keyB64) return
        throw new ProtocolError('forbidden', `version '${version}' of track '${trackId}' already has another key; a version's key never changes`)
      }
      throw new Error(`key vault: ${res.status}`)
    },
  }
}
