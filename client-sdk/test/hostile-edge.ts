// A hostile edge for the SDK's security tests: a real HTTP proxy in front of the real edge
// (workerd) that counts every request and answers the ones the test picks with what it likes.

import { createServer, request as httpRequest } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import type { Test } from 'tap'

interface Forged {
  status?: number
  body: string | Uint8Array
  type?: string
}

export interface HostileEdge {
  url: string
  /** Requests seen, by path (query included). */
  seen: Map<string, number>
  count(match: (path: string) => boolean): number
  /** Answers a request itself when this returns something; else the real edge answers. */
  forge: ((path: string) => Forged | Promise<Forged | undefined> | undefined) | undefined
}

export async function startHostileEdge(t: Test, target: string): Promise<HostileEdge> {
  const base = new URL(target)
  const sockets = new Set<Socket>()
  const edge: HostileEdge = {
    url: '',
    seen: new Map(),
    count: (match) => [...edge.seen].reduce((n, [p, c]) => (match(p) ? n + c : n), 0),
    forge: undefined,
  }
  const server = createServer(async (req, res) => {
    const path = req.url ?? '/'
    edge.seen.set(path, (edge.seen.get(path) ?? 0) + 1)
    const forged = await edge.forge?.(path)
    if (forged) {
      req.resume()
      const body = typeof forged.body === 'string' ? Buffer.from(forged.body) : Buffer.from(forged.body)
      res.writeHead(forged.status ?? 200, { 'content-type': forged.type ?? 'application/json', 'content-length': String(body.length) })
      res.end(body)
      return
    }
    const upstream = httpRequest({ host: base.hostname, port: base.port, method: req.method, path, headers: { ...req.headers, host: base.host } }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers)
      up.pipe(res)
    })
    upstream.on('error', () => res.destroy())
    req.pipe(upstream)
  })
  server.on('connection', (s) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  edge.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        for (const s of sockets) s.destroy()
      }),
  )
  return edge
}
