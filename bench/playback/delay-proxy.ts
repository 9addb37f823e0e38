import { type Server, type Socket, connect, createServer } from 'node:net'

/**
 * A TCP proxy that holds every segment back `oneWayMs` in each direction: a link's latency in
 * user space (these kernels have no netem). It sits in front of the origin (the edge's round
 * trip to it) and of the tracker (each listener's own). Order is kept: Node fires timers of
 * one duration in the order they were set. It counts the bytes the server sent back.
 */
export interface DelayProxy {
  url: string
  /** Bytes from the server to its clients so far. */
  readonly bytesDown: number
  close(): Promise<void>
}

export async function startDelayProxy(target: string, oneWayMs: number): Promise<DelayProxy> {
  const { hostname, port } = new URL(target)
  const sockets = new Set<Socket>()
  let bytesDown = 0
  const later = (fn: () => void) => (oneWayMs > 0 ? setTimeout(fn, oneWayMs) : setImmediate(fn))

  const pipe = (from: Socket, to: Socket, count: boolean) => {
    from.on('data', (data) => {
      if (count) bytesDown += data.byteLength
      later(() => {
        if (!to.destroyed) to.write(data)
      })
    })
    from.on('end', () => later(() => to.end()))
    from.on('error', () => to.destroy())
    from.on('close', () => later(() => to.destroy()))
  }

  const server: Server = createServer((client) => {
    const upstream = connect({ host: hostname, port: Number(port) })
    for (const s of [client, upstream]) {
      sockets.add(s)
      s.on('close', () => sockets.delete(s))
      s.setNoDelay(true)
    }
    pipe(client, upstream, false)
    pipe(upstream, client, true)
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  const address = server.address() as { port: number }
  const scheme = new URL(target).protocol
  return {
    url: `${scheme}//127.0.0.1:${address.port}`,
    get bytesDown() {
      return bytesDown
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        for (const s of sockets) s.destroy()
      }),
  }
}
