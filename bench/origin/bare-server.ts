import { readFile } from 'node:fs/promises'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'

/**
 * The baseline: a bare node:http server holding the same chunk bytes in a Map, with the same
 * cache headers. What the origin adds on top of this (routing, validation, metrics) is its overhead.
 */
const [pathsFile] = process.argv.slice(2)
const entries = JSON.parse(await readFile(pathsFile!, 'utf8')) as Array<{ path: string; file: string; offset: number; length: number; etag: string }>
const bodies = new Map<string, { body: Buffer; etag: string }>()
const files = new Map<string, Buffer>()
for (const e of entries) {
  const whole = files.get(e.file) ?? (await readFile(e.file))
  files.set(e.file, whole)
  bodies.set(e.path, { body: whole.subarray(e.offset, e.offset + e.length), etag: e.etag })
}
const server = createServer((req, res) => {
  const hit = bodies.get(req.url ?? '')
  if (!hit) {
    res.writeHead(404).end()
    return
  }
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': hit.body.length, 'cache-control': 'public, max-age=31536000, immutable', etag: hit.etag })
  res.end(hit.body)
})
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ ready: true, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` })}\n`)
})
process.on('SIGTERM', () => server.close(() => process.exit(0)))
