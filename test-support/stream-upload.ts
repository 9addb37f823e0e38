import { request } from 'node:http'

/**
 * POSTs an endless chunked body (no Content-Length) until the server answers or `maxBytes` have
 * gone: a server that reads the whole body before checking its size answers only at the end,
 * one that enforces its limit while reading answers after a few KB.
 */
export interface UploadAnswer {
  /** 0 when the server reset the connection instead: a server that stops reading a body and closes can discard its own answer that way. */
  status: number
  body: string
  sentBeforeAnswer: number
}

export function streamUpload(url: string, maxBytes: number, headers: Record<string, string> = {}): Promise<UploadAnswer> {
  return new Promise((resolve, reject) => {
    let sent = 0
    let answered = false
    const req = request(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers } }, (res) => {
      answered = true
      const sentBeforeAnswer = sent
      let body = ''
      res.on('data', (d) => (body += d))
      res.on('end', () => {
        req.destroy()
        resolve({ status: res.statusCode ?? 0, body, sentBeforeAnswer })
      })
    })
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (answered) return
      answered = true
      if (err.code === 'ECONNRESET' || err.code === 'EPIPE') resolve({ status: 0, body: '', sentBeforeAnswer: sent })
      else reject(err)
    })
    const piece = Buffer.alloc(64 * 1024, 0x20)
    const pump = (): void => {
      while (!answered && sent < maxBytes) {
        sent += piece.length
        if (!req.write(piece)) return void req.once('drain', pump)
      }
      if (!answered) req.end()
    }
    pump()
  })
}
