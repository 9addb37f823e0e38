import { ProtocolError, findQuality } from '../../protocol/index.js'
import { createChunkMemory } from './chunk-memory.js'
import { type R2BucketLike, createR2Store } from './r2-store.js'
import { S3Error, type S3Target } from './s3-bucket.js'
import type { MasterReader, MasterReaderOptions, StoredChunk } from './storage.js'

/**
 * Masters over the S3 API, from Node: `s3://BUCKET?endpoint=...&region=...&style=path|virtual`
 * plus the credentials in the environment. The layout, the publish order and the sweep are R2's
 * (r2-store.ts) over an S3 bucket (s3-bucket.ts): one layout, so a bucket written over S3 reads
 * through the R2 binding and the other way round (R2 is S3-compatible). The read side adds the
 * directory store's hot-chunk memory: an origin over S3 asks the store for each chunk once.
 */

/** The environment variables read, by the names the AWS CLI and SDKs use. */
type S3Env = Partial<Record<'AWS_ACCESS_KEY_ID' | 'AWS_SECRET_ACCESS_KEY' | 'AWS_SESSION_TOKEN' | 'AWS_REGION' | 'AWS_DEFAULT_REGION' | 'AWS_ENDPOINT_URL_S3' | 'AWS_ENDPOINT_URL', string | undefined>>

/** The query parameters an s3:// URL may carry. */
const PARAMS = new Set(['endpoint', 'region', 'style'])

/**
 * `s3://BUCKET[?endpoint=URL&region=R&style=path|virtual]` and the environment -> the target, or
 * the reason it is not one (a message for a usage error). Credentials only from the environment
 * (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN), never from the URL, which shows
 * up in logs and process lists. Defaults: endpoint AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL, else
 * AWS S3 in the region; region AWS_REGION or AWS_DEFAULT_REGION, else `auto` with an endpoint (R2)
 * and `us-east-1` without; style path with an endpoint (R2, MinIO and local servers all take it),
 * virtual on AWS.
 */
export function parseS3Target(text: string, env: S3Env): S3Target | string {
  const m = /^s3:\/\/([^/?#]*)(.*)$/s.exec(text)
  if (!m) return 'not an s3:// URL'
  const bucket = m[1]!
  if (/[@:]/.test(bucket)) return 's3://BUCKET takes no port or user: the endpoint goes in ?endpoint=, credentials in AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY'
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket) || bucket.includes('..')) return 'the bucket name must be 3-63 lowercase letters, digits, dots and hyphens'
  let url: URL
  try {
    url = new URL(`http://bucket${m[2]}`)
  } catch {
    return `not a URL: ${text}`
  }
  if (url.pathname !== '/' || url.hash) return 's3://BUCKET takes no path: the masters are at the root of the bucket'
  for (const name of url.searchParams.keys()) if (!PARAMS.has(name)) return `unknown parameter '${name}' (known: ${[...PARAMS].join(', ')})`
  const q = (name: string) => url.searchParams.get(name) ?? undefined

  const endpointText = q('endpoint') ?? env.AWS_ENDPOINT_URL_S3 ?? env.AWS_ENDPOINT_URL
  const region = q('region') ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? (endpointText ? 'auto' : 'us-east-1')
  if (!/^[a-z0-9-]+$/.test(region)) return `not a region: ${region}`
  let endpoint: URL
  try {
    endpoint = new URL(endpointText ?? `https://s3.${region}.amazonaws.com`)
  } catch {
    return `the endpoint is not a URL: ${endpointText}`
  }
  if (endpoint.protocol !== 'http:' && endpoint.protocol !== 'https:') return 'the endpoint must be an http(s) URL'
  if (endpoint.search || endpoint.hash || endpoint.username) return 'the endpoint takes no query, fragment or credentials'
  const style = q('style') ?? (endpointText ? 'path' : 'virtual')
  if (style !== 'path' && style !== 'virtual') return 'style must be path or virtual'

  const accessKeyId = env.AWS_ACCESS_KEY_ID
  const secretAccessKey = env.AWS_SECRET_ACCESS_KEY
  if (!accessKeyId || !secretAccessKey) return 'set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (for R2: an R2 API token\u2019s access key id and secret)'
  return { bucket, endpoint, region, style, credentials: { accessKeyId, secretAccessKey, ...(env.AWS_SESSION_TOKEN && { sessionToken: env.AWS_SESSION_TOKEN }) } }
}

/** The target as shown to people: the bucket and where it is, never the credentials. */
export function describeS3Target(target: S3Target): string {
  return `s3://${target.bucket} at ${target.endpoint.origin}${target.endpoint.pathname.replace(/\/$/, '')}`
}

export interface S3StoreOptions extends MasterReaderOptions {
  /** Bytes of hot chunks kept in memory (default 256 MiB; 0 keeps none). */
  memoryBytes?: number
}

/**
 * The read side over an S3 bucket: R2's reader (the index object, ranged reads of masters) with
 * hot chunks held in memory as the directory store holds them, `peekChunk` included, so the Node
 * origin's hot path answers them without a request to the bucket.
 */
export function createS3Store(bucket: R2BucketLike, options: S3StoreOptions = {}): MasterReader {
  const reader = createR2Store(bucket, options)
  const memory = createChunkMemory(options.memoryBytes ?? 256 * 1024 * 1024)
  const filling = new Map<string, Promise<StoredChunk | undefined>>()

  async function fill(trackId: string, version: string, bitrate: number, index: number, key: string): Promise<StoredChunk | undefined> {
    const stored = await reader.chunk(trackId, version, bitrate, index)
    // A chunk exists only under a manifest that names its quality, which the reader has just read (and keeps).
    const q = stored && findQuality((await reader.manifest(trackId, version))!.doc.manifest, bitrate)
    if (!stored || !q) return stored
    const slot = memory.slot(`${trackId}/${version}/${bitrate}`, index, q.chunkSize, q.byteLength)
    slot.view.set(stored.bytes)
    return slot.keep(key, stored.etag)
  }

  function chunk(trackId: string, version: string, bitrate: number, index: number): Promise<StoredChunk | undefined> {
    const key = `${trackId}/${version}/${bitrate}/${index}`
    const hit = memory.peek(key)
    if (hit) return Promise.resolve(hit)
    let pending = filling.get(key)
    if (!pending) {
      pending = fill(trackId, version, bitrate, index, key).finally(() => filling.delete(key))
      filling.set(key, pending)
    }
    return pending
  }

  return unavailableOnOutage({ ...reader, chunk, peekChunk: (path) => memory.peek(path) })
}

/**
 * A bucket that did not answer, or answered 5xx or 429 through the client's retries, is an outage:
 * the masters are there but out of reach for now. It becomes a 503 `storage_unavailable` (the
 * client may try again; the S3 error goes to the log as the cause), not a 500 that reads as a bug
 * and not a 404 that would say the track is gone.
 */
function unavailableOnOutage(reader: MasterReader): MasterReader {
  const outage = (err: unknown): never => {
    if (err instanceof S3Error && (err.status === 0 || err.status === 429 || err.status >= 500)) {
      throw new ProtocolError('storage_unavailable', 'the masters store did not answer; try again', { cause: err })
    }
    throw err
  }
  return {
    currentVersion: (trackId) => reader.currentVersion(trackId).catch(outage),
    manifest: (trackId, version) => reader.manifest(trackId, version).catch(outage),
    catalog: () => reader.catalog().catch(outage),
    chunk: (trackId, version, bitrate, index) => reader.chunk(trackId, version, bitrate, index).catch(outage),
    init: (trackId, version, bitrate) => reader.init(trackId, version, bitrate).catch(outage),
    ...(reader.peekChunk && { peekChunk: reader.peekChunk }),
  }
}
