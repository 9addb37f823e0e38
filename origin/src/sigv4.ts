/**
 * AWS Signature Version 4 for S3, header form, with a signed payload: written from the S3 API
 * reference ("Signature Calculations for the Authorization Header: Transferring Payload in a
 * Single Chunk") and checked against its worked examples (origin/test/sigv4.test.ts). WebCrypto
 * only, no node:* import: the same code signs in Node and in a Worker.
 */

export interface S3Credentials {
  accessKeyId: string
  secretAccessKey: string
  /** Temporary credentials (STS) carry one: sent as x-amz-security-token and signed. */
  sessionToken?: string
}

export interface SignInput {
  method: string
  url: URL
  /** Headers to send and sign besides host and the x-amz-* the signer adds (names in any case). */
  headers?: Record<string, string>
  /** The request body; its SHA-256 is signed (x-amz-content-sha256). */
  body?: Uint8Array
  credentials: S3Credentials
  region: string
  service?: string
  /** The signing time; default now. */
  date?: Date
}

const encoder = new TextEncoder()

function hex(bytes: ArrayBuffer): string {
  return Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, '0')).join('')
}

async function sha256Hex(data: Uint8Array | string): Promise<string> {
  const bytes = typeof data === 'string' ? encoder.encode(data) : data
  return hex(await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>))
}

async function hmac(key: Uint8Array | ArrayBuffer, data: string): Promise<ArrayBuffer> {
  const k = await crypto.subtle.importKey('raw', key as Uint8Array<ArrayBuffer>, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign'])
  return crypto.subtle.sign('HMAC', k, encoder.encode(data))
}

/**
 * The spec's UriEncode: every byte but the unreserved A-Z a-z 0-9 - _ . ~ as %XY (upper-case
 * hex), over UTF-8; '/' kept only where the caller says (object key paths).
 */
export function uriEncode(text: string, keepSlash = false): string {
  let out = ''
  for (const byte of encoder.encode(text)) {
    const c = String.fromCharCode(byte)
    if (/[A-Za-z0-9\-_.~]/.test(c) || (keepSlash && c === '/')) out += c
    else out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`
  }
  return out
}

/** `20130524T000000Z`, the form of x-amz-date. */
function amzDate(date: Date): string {
  return date
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '')
}

// The signing key changes once a day: derived once, not four HMACs per request.
let lastKey: { id: string; key: Promise<ArrayBuffer> } | undefined

function signingKey(secret: string, day: string, region: string, service: string): Promise<ArrayBuffer> {
  const id = `${day}/${region}/${service}/${secret}`
  if (lastKey?.id !== id) {
    const key = (async () => {
      let k = await hmac(encoder.encode(`AWS4${secret}`), day)
      for (const part of [region, service, 'aws4_request']) k = await hmac(k, part)
      return k
    })()
    lastKey = { id, key }
  }
  return lastKey.key
}

/**
 * The canonical query string: each name and value UriEncoded, sorted by name (then value), a
 * parameter without a value written `name=`.
 */
function canonicalQuery(url: URL): string {
  const pairs = [...url.searchParams].map(([k, v]) => [uriEncode(k), uriEncode(v)] as const)
  pairs.sort(([a, av], [b, bv]) => (a < b ? -1 : a > b ? 1 : av < bv ? -1 : av > bv ? 1 : 0))
  return pairs.map(([k, v]) => `${k}=${v}`).join('&')
}

/**
 * The headers to send, Authorization included. The path of `url` must already be encoded as it
 * goes on the wire (S3 wants each segment encoded once, so the canonical URI is that path as is).
 */
export async function signRequest(input: SignInput): Promise<Record<string, string>> {
  const date = input.date ?? new Date()
  const stamp = amzDate(date)
  const day = stamp.slice(0, 8)
  const service = input.service ?? 's3'
  const payloadHash = await sha256Hex(input.body ?? new Uint8Array(0))
  const headers: Record<string, string> = {}
  for (const [name, value] of Object.entries(input.headers ?? {})) headers[name.toLowerCase()] = value
  headers.host = input.url.host
  headers['x-amz-content-sha256'] = payloadHash
  headers['x-amz-date'] = stamp
  if (input.credentials.sessionToken) headers['x-amz-security-token'] = input.credentials.sessionToken

  const names = Object.keys(headers).sort()
  const canonicalHeaders = names.map((n) => `${n}:${headers[n]!.trim().replace(/\s+/g, ' ')}\n`).join('')
  const signedHeaders = names.join(';')
  const canonicalRequest = [input.method.toUpperCase(), input.url.pathname || '/', canonicalQuery(input.url), canonicalHeaders, signedHeaders, payloadHash].join('\n')
  const scope = `${day}/${input.region}/${service}/aws4_request`
  const stringToSign = ['AWS4-HMAC-SHA256', stamp, scope, await sha256Hex(canonicalRequest)].join('\n')

  const signature = hex(await hmac(await signingKey(input.credentials.secretAccessKey, day, input.region, service), stringToSign))

  const { host: _host, ...sent } = headers
  return {
    ...sent,
    authorization: `AWS4-HMAC-SHA256 Credential=${input.credentials.accessKeyId}/${scope},SignedHeaders=${signedHeaders},Signature=${signature}`,
  }
}
