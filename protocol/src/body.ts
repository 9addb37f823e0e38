import { ProtocolError } from './errors.js'

/**
 * Reads a request body, refusing it (413 payload_too_large) the moment it passes `limit` bytes:
 * a Content-Length can lie or be absent (chunked), and reading first and measuring after lets
 * one client make a server hold whatever it sends. Web streams only, so the origin on Node and
 * the edge in workerd read alike.
 */
export async function readBodyLimited(request: Request, limit: number, what = 'request body'): Promise<Uint8Array> {
  const declared = request.headers.get('content-length')
  if (declared !== null && Number(declared) > limit) throw new ProtocolError('payload_too_large', `${what} over ${limit} bytes`)
  if (!request.body) return new Uint8Array(0)
  const reader = request.body.getReader()
  const parts: Uint8Array[] = []
  let size = 0
  for (;;) {
    const { value, done } = await reader.read()
    if (done) break
    size += value.byteLength
    if (size > limit) {
      await reader.cancel().catch(() => undefined)
      throw new ProtocolError('payload_too_large', `${what} over ${limit} bytes`)
    }
    parts.push(value)
  }
  const out = new Uint8Array(size)
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.byteLength
  }
  return out
}

/** readBodyLimited as UTF-8 text. */
export async function readTextLimited(request: Request, limit: number, what?: string): Promise<string> {
  return new TextDecoder().decode(await readBodyLimited(request, limit, what))
}
