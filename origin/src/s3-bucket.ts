import type { R2BucketLike } from './r2-store.js'
import { type S3Credentials, signRequest, uriEncode } from './sigv4.js'

/**
 * A bucket over the S3 API (R2's S3 endpoint, AWS S3, MinIO, any S3-compatible store), with the
 * R2 binding's shape (R2BucketLike): so the R2 store, publisher and sweep (r2-store.ts) run over
 * it unchanged, and S3 is one more way to reach the same layout. Plain fetch and SigV4
 * (sigv4.ts), no SDK and no node:* import.
 *
 * What each call costs in S3 requests: get, put and each deleted key one; list one per 1000 keys.
 * Bodies are read whole (chunks, manifests, the index: small; masters are only ever read by range).
 */

/** Where a bucket is and how to reach it (s3-store.ts builds this from an s3:// URL and the environment). */
export interface S3Target {
  bucket: string
  /** The service endpoint, without the bucket: `https://<account>.r2.cloudflarestorage.com`, `http://127.0.0.1:9000`. */
  endpoint: URL
  region: string
  /** path: `<endpoint>/<bucket>/<key>`; virtual: `<bucket>.<endpoint host>/<key>`. */
  style: 'path' | 'virtual'
  credentials: S3Credentials
}

export interface S3BucketOptions {
  /** Default: the global fetch. A seam for tests (a resolver for virtual hosts) and proxies. */
  fetch?: typeof fetch
  /** Tries of a request that failed on the network or with a 5xx / 429 (default 3). */
  attempts?: number
  /** Each try's limit (default 120 s: a master of a long track at 320 kbit/s over a slow link). */
  timeoutMs?: number
}

/**
 * A failed S3 request, with S3's error code (`NoSuchBucket`, `AccessDenied`,
 * `SignatureDoesNotMatch`...) or `NetworkError`, and the HTTP status (0 without an answer).
 */
export class S3Error extends Error {
  override readonly name = 'S3Error'
  constructor(
    readonly code: string,
    readonly status: number,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options)
  }
}

/** The bucket, plus the one call the R2 binding has no need for: is the bucket there and ours? */
export interface S3Bucket extends R2BucketLike {
  readonly target: S3Target
  /** HEAD the bucket: resolves when it exists and the credentials may use it, else an S3Error saying which. */
  check(): Promise<void>
}

const RETRIED = new Set([429, 500, 502, 503, 504])

/** The first `<Tag>...</Tag>` inside `xml`, entities decoded. S3's XML is flat and regular enough. */
function tag(xml: string, name: string): string | undefined {
  const m = new RegExp(`<${name}>([\\s\\S]*?)</${name}>`).exec(xml)
  return m ? decodeXml(m[1]!) : undefined
}

function blocks(xml: string, name: string): string[] {
  return [...xml.matchAll(new RegExp(`<${name}>([\\s\\S]*?)</${name}>`, 'g'))].map((m) => m[1]!)
}

function decodeXml(text: string): string {
  return text.replace(/&(lt|gt|amp|quot|apos|#x[0-9a-fA-F]+|#\d+);/g, (_, e: string) => {
    if (e === 'lt') return '<'
    if (e === 'gt') return '>'
    if (e === 'amp') return '&'
    if (e === 'quot') return '"'
    if (e === 'apos') return "'"
    return String.fromCodePoint(e[1] === 'x' ? Number.parseInt(e.slice(2), 16) : Number(e.slice(1)))
  })
}

const unquote = (etag: string | null) => (etag ?? '').replace(/^W\//, '').replace(/^"|"$/g, '')

/** An object as the R2 API hands it over, from a whole S3 answer. */
function objectBody(res: Response, bytes: Uint8Array) {
  return {
    etag: unquote(res.headers.get('etag')),
    size: bytes.byteLength,
    uploaded: new Date(res.headers.get('last-modified') ?? 0),
    // The bytes own their whole buffer (read from the answer just now): no copy.
    arrayBuffer: async () => bytes.buffer as ArrayBuffer,
    text: async () => new TextDecoder().decode(bytes),
  }
}

export function createS3Bucket(target: S3Target, options: S3BucketOptions = {}): S3Bucket {
  const doFetch = options.fetch ?? fetch
  const attempts = options.attempts ?? 3
  const timeoutMs = options.timeoutMs ?? 120_000
  const base = target.endpoint.pathname.replace(/\/+$/, '')

  /** The URL of `key` (undefined: the bucket itself), path already encoded as it goes on the wire. */
  function urlOf(key: string | undefined, query: Record<string, string> = {}): URL {
    const path = key === undefined ? '' : `/${uriEncode(key, true)}`
    const url =
      target.style === 'virtual'
        ? new URL(`${target.endpoint.protocol}//${target.bucket}.${target.endpoint.host}${base}${path || '/'}`)
        : new URL(`${target.endpoint.protocol}//${target.endpoint.host}${base}/${target.bucket}${path}`)
    for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v)
    return url
  }

  /** One signed request, tried again on the network and on S3's "slow down" and 5xx answers. */
  async function send(method: string, url: URL, what: string, init: { headers?: Record<string, string>; body?: Uint8Array } = {}): Promise<{ res: Response; bytes: Uint8Array }> {
    let last: unknown
    for (let attempt = 0; attempt < attempts; attempt++) {
      if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 100 * 2 ** attempt))
      try {
        const headers = await signRequest({
          method,
          url,
          credentials: target.credentials,
          region: target.region,
          ...(init.headers && { headers: init.headers }),
          ...(init.body && { body: init.body }),
        })
        const res = await doFetch(url, { method, headers, ...(init.body && { body: init.body as Uint8Array<ArrayBuffer> }), signal: AbortSignal.timeout(timeoutMs) })
        const bytes = new Uint8Array(await res.arrayBuffer())
        if (RETRIED.has(res.status) && attempt + 1 < attempts) {
          last = failure(res, bytes, what)
          continue
        }
        return { res, bytes }
      } catch (err) {
        last = new S3Error('NetworkError', 0, `${what}: ${url.origin} did not answer (${(err as Error).message})`, { cause: err })
      }
    }
    throw last
  }

  function failure(res: Response, bytes: Uint8Array, what: string): S3Error {
    const xml = new TextDecoder().decode(bytes)
    const code = tag(xml, 'Code') ?? (res.status === 404 ? 'NotFound' : res.status === 403 ? 'AccessDenied' : `HTTP${res.status}`)
    const message = tag(xml, 'Message')
    return new S3Error(code, res.status, `${what}: ${res.status} ${code}${message ? `: ${message}` : ''} (bucket ${target.bucket} at ${target.endpoint.origin})`)
  }

  const bucket: S3Bucket = {
    target,

    async check() {
      const { res, bytes } = await send('HEAD', urlOf(undefined), `HEAD bucket ${target.bucket}`)
      if (res.status === 404) throw new S3Error('NoSuchBucket', 404, `no bucket ${target.bucket} at ${target.endpoint.origin}`)
      if (!res.ok) throw failure(res, bytes, `HEAD bucket ${target.bucket}`)
    },

    async get(key, opts) {
      const range = opts?.range
      const headers: Record<string, string> = range ? { range: `bytes=${range.offset}-${range.offset + range.length - 1}` } : {}
      const { res, bytes } = await send('GET', urlOf(key), `GET ${key}`, { headers })
      if (res.status === 200 || res.status === 206) return objectBody(res, bytes)
      const err = failure(res, bytes, `GET ${key}`)
      // A missing object is "not there"; a missing bucket is a misconfiguration, never an empty catalog.
      if (res.status === 404 && err.code !== 'NoSuchBucket') return null
      throw err
    },

    async put(key, value, opts) {
      const body = typeof value === 'string' ? new TextEncoder().encode(value) : value
      const headers: Record<string, string> = { 'content-type': opts?.httpMetadata?.contentType ?? 'application/octet-stream' }
      if (opts?.onlyIf?.etagMatches !== undefined) headers['if-match'] = `"${opts.onlyIf.etagMatches}"`
      if (opts?.onlyIf?.etagDoesNotMatch !== undefined) headers['if-none-match'] = opts.onlyIf.etagDoesNotMatch === '*' ? '*' : `"${opts.onlyIf.etagDoesNotMatch}"`
      const { res, bytes } = await send('PUT', urlOf(key), `PUT ${key}`, { headers, body })
      if (res.ok) return { etag: unquote(res.headers.get('etag')) }
      // A condition that did not hold (412), or a concurrent conditional write (409): the R2 API's null, and the caller tries again.
      if (opts?.onlyIf && (res.status === 412 || res.status === 409)) return null
      throw failure(res, bytes, `PUT ${key}`)
    },

    async list(opts = {}) {
      const query: Record<string, string> = { 'list-type': '2' }
      if (opts.prefix) query.prefix = opts.prefix
      if (opts.delimiter) query.delimiter = opts.delimiter
      if (opts.cursor) query['continuation-token'] = opts.cursor
      if (opts.limit) query['max-keys'] = String(opts.limit)
      const url = urlOf(undefined, query)
      const { res, bytes } = await send('GET', url, `LIST ${opts.prefix ?? ''}`)
      if (!res.ok) throw failure(res, bytes, `LIST ${opts.prefix ?? ''}`)
      const xml = new TextDecoder().decode(bytes)
      const cursor = tag(xml, 'NextContinuationToken')
      return {
        objects: blocks(xml, 'Contents').map((c) => ({ key: tag(c, 'Key') ?? '', size: Number(tag(c, 'Size') ?? 0), uploaded: new Date(tag(c, 'LastModified') ?? 0) })),
        delimitedPrefixes: blocks(xml, 'CommonPrefixes').map((p) => tag(p, 'Prefix') ?? ''),
        truncated: tag(xml, 'IsTruncated') === 'true',
        ...(cursor !== undefined && { cursor }),
      }
    },

    async delete(keys) {
      // One DELETE per key: the batch call (POST ?delete) wants a Content-MD5, which WebCrypto has not. Deletes are rare (the sweep).
      for (const key of typeof keys === 'string' ? [keys] : keys) {
        const { res, bytes } = await send('DELETE', urlOf(key), `DELETE ${key}`)
        if (!res.ok && res.status !== 404) throw failure(res, bytes, `DELETE ${key}`)
      }
    },
  }
  return bucket
}
