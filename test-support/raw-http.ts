// Malformed HTTP requests written byte for byte over node:net, for fuzzing the request-target and
// headers of the real servers (tracker, origin, edge): fetch() and http.request() refuse to send
// most of these. Shared by the request-target-fuzz tests of tracker/, origin/ and edge/.

import { connect } from 'node:net'
import type { Test } from 'tap'
import { seeded } from './seeded.js'

export interface RawAnswer {
  /** Status of the response, or null when the socket closed (or reset) before a whole head arrived. */
  status: number | null
  head: string
  body: string
  /** The server closed (or reset) the socket. */
  closed: boolean
  /** Neither an answer nor a close within the time allowed. */
  timedOut: boolean
}

export interface TargetCase {
  name: string
  target: Buffer
}

const WS_KEY = 'dGhlIHNhbXBsZSBub25jZQ=='

/** `GET <target> HTTP/1.1` with the given header lines (each "Name: value"), bytes as given. */
function requestBytes(target: Buffer | string, headers: string[], method = 'GET'): Buffer {
  const head = headers.map((h) => `${h}\r\n`).join('')
  return Buffer.concat([Buffer.from(`${method} `, 'latin1'), Buffer.isBuffer(target) ? target : Buffer.from(target, 'latin1'), Buffer.from(` HTTP/1.1\r\n${head}\r\n`, 'latin1')])
}

export function plainGet(target: Buffer | string, extra: string[] = []): Buffer {
  return requestBytes(target, ['Host: 127.0.0.1', 'Connection: close', ...extra])
}

export function upgradeGet(target: Buffer | string, extra: string[] = [], options: { key?: string | null; version?: string | null } = {}): Buffer {
  const key = options.key === undefined ? WS_KEY : options.key
  const version = options.version === undefined ? '13' : options.version
  return requestBytes(target, [
    'Host: 127.0.0.1',
    'Upgrade: websocket',
    'Connection: Upgrade',
    ...(key === null ? [] : [`Sec-WebSocket-Key: ${key}`]),
    ...(version === null ? [] : [`Sec-WebSocket-Version: ${version}`]),
    ...extra,
  ])
}

/**
 * Writes `bytes` on a fresh connection and reads one response: its head, and its body as far as
 * Content-Length, chunked encoding or the close delimit it (a 101 has no body). Never rejects.
 */
export function rawExchange(port: number, bytes: Buffer, timeoutMs = 5000): Promise<RawAnswer> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1')
    let data = Buffer.alloc(0)
    let done = false
    const finish = (closed: boolean, timedOut = false) => {
      if (done) return
      done = true
      clearTimeout(timer)
      socket.destroy()
      const text = data.toString('latin1')
      const end = text.indexOf('\r\n\r\n')
      const head = end === -1 ? '' : text.slice(0, end)
      const match = /^HTTP\/1\.[01] (\d{3})/.exec(head)
      const raw = end === -1 ? text : text.slice(end + 4)
      resolve({ status: match ? Number(match[1]) : null, head, body: /\r\ntransfer-encoding: *chunked/i.test(head) ? dechunk(raw) : raw, closed, timedOut })
    }
    const timer = setTimeout(() => finish(false, true), timeoutMs)
    socket.on('error', () => finish(true))
    socket.on('close', () => finish(true))
    socket.on('data', (chunk: Buffer) => {
      data = Buffer.concat([data, chunk])
      const text = data.toString('latin1')
      const end = text.indexOf('\r\n\r\n')
      if (end === -1) return
      const head = text.slice(0, end)
      const body = text.slice(end + 4)
      if (/^HTTP\/1\.[01] (101|1\d\d|204|304) /.test(head)) return finish(false)
      const length = /\r\ncontent-length: *(\d+)/i.exec(head)
      if (length && Buffer.byteLength(body, 'latin1') >= Number(length[1])) return finish(false)
      if (/\r\ntransfer-encoding: *chunked/i.test(head) && /(^|\r\n)0\r\n\r\n$/.test(body)) return finish(false)
    })
    socket.write(bytes)
  })
}

/** The payload of a chunked body (as far as it arrived). */
function dechunk(raw: string): string {
  let out = ''
  let at = 0
  for (;;) {
    const eol = raw.indexOf('\r\n', at)
    if (eol === -1) return out
    const size = Number.parseInt(raw.slice(at, eol), 16)
    if (!Number.isFinite(size) || size === 0) return out
    out += raw.slice(eol + 2, eol + 2 + size)
    at = eol + 2 + size + 2
  }
}

/** A short description of an answer, for test messages. */
export function describe(answer: RawAnswer): string {
  if (answer.timedOut) return 'no answer and no close (timed out)'
  if (answer.status === null) return 'closed without an answer'
  return `${answer.status} ${answer.body
    .slice(0, 120)
    .replace(/\s+/g, ' ')
    .replace(/[^\x20-\x7e]/g, '.')}`
}

/**
 * What a server may do with a malformed request: a 4xx, or close the socket without one (Node's
 * and workerd's parsers drop some requests outright). Never a 5xx, never silence.
 */
export function refused(answer: RawAnswer): boolean {
  if (answer.timedOut) return false
  if (answer.status === null) return answer.closed
  return answer.status >= 400 && answer.status < 500
}

/** Weaker, for requests that may be well formed (random targets, odd but legal headers): any answer but a 5xx, or a close; never silence. */
export function noServerError(answer: RawAnswer): boolean {
  if (answer.timedOut) return false
  if (answer.status === null) return answer.closed
  return answer.status < 500
}

/** Whether an answer is one of Chorus's JSON error bodies with the given code. */
export function isErrorBody(answer: RawAnswer, code: string): boolean {
  try {
    const parsed = JSON.parse(answer.body) as { error?: { code?: unknown; message?: unknown } }
    return parsed.error?.code === code && typeof parsed.error.message === 'string'
  } catch {
    return false
  }
}

function latin1(text: string): Buffer {
  return Buffer.from(text, 'latin1')
}

/** Request-targets that are not a usable path: each must get a 4xx or a closed socket. */
export const MALFORMED_TARGETS: TargetCase[] = [
  { name: '//', target: latin1('//') },
  { name: '///', target: latin1('///') },
  { name: '//evil.com/announce', target: latin1('//evil.com/announce') },
  { name: '//evil.com:80/healthz', target: latin1('//evil.com:80/healthz') },
  { name: '/\\evil.com', target: latin1('/\\evil.com') },
  { name: '/%', target: latin1('/%') },
  { name: '/%zz', target: latin1('/%zz') },
  { name: '/%00', target: latin1('/%00') },
  { name: '*', target: latin1('*') },
  { name: 'http://[::1', target: latin1('http://[::1') },
  { name: 'http://', target: latin1('http://') },
  { name: 'http://a:99999/', target: latin1('http://a:99999/') },
  { name: 'ws://[/announce', target: latin1('ws://[/announce') },
  { name: 'a', target: latin1('a') },
  { name: 'host:80 (authority-form)', target: latin1('127.0.0.1:80') },
  { name: 'empty path', target: latin1('') },
  { name: '10 KB target', target: latin1(`/${'a'.repeat(10 * 1024)}`) },
  { name: '10 KB of slashes', target: latin1('/'.repeat(10 * 1024)) },
  { name: 'non-ASCII bytes', target: Buffer.from([0x2f, 0x80, 0xc3, 0x28, 0xfe, 0xff]) },
  { name: 'UTF-8 path', target: Buffer.from('/ännounce/🎵', 'utf8') },
  { name: 'NUL', target: latin1('\x00') },
  { name: '/NUL', target: latin1('/\x00') },
  { name: 'control bytes', target: latin1('/\x01\x7f\x1b') },
  { name: 'tab inside', target: latin1('/a\tb') },
  { name: '..', target: latin1('/../../../etc/passwd') },
  { name: '/swarm/ bad hash', target: latin1(`/swarm/${'z'.repeat(40)}`) },
]

/** Runs `work` over `items`, at most `limit` at a time, keeping their order in the result. */
async function mapLimit<T, R>(items: readonly T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length)
  let next = 0
  const lane = async () => {
    while (next < items.length) {
      const i = next++
      results[i] = await work(items[i] as T)
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane))
  return results
}

/** Pieces the random targets are made of: separators, escapes, authorities, schemes, bytes. */
const PIECES = [
  '/',
  '//',
  '///',
  '\\',
  '%',
  '%2',
  '%zz',
  '%2f',
  '%2F',
  '%00',
  '%ff',
  '?',
  '??',
  '#',
  '&',
  '=',
  '.',
  '..',
  '/..',
  '@',
  ':',
  '::',
  '[',
  ']',
  '[::1]',
  '*',
  ';',
  'http://',
  'https:',
  'ws://',
  'file:',
  'javascript:',
  'evil.com',
  'announce',
  'swarm/',
  'healthz',
  'metrics',
  'v1/chunks/',
  'token=',
  '~',
  '!',
  "'",
  '"',
  '<',
  '>',
  '{',
  '}',
  '|',
  '^',
  '`',
  '$',
  '+',
  ',',
  'é',
  'ü',
  '😀',
]

/** `count` random request-targets from a seed: the same list on every run. */
export function randomTargets(seed: number, count: number): TargetCase[] {
  const random = seeded(seed)
  const int = (n: number) => Math.floor(random() * n)
  const out: TargetCase[] = []
  for (let i = 0; i < count; i++) {
    const parts: Buffer[] = []
    const first = random()
    if (first < 0.6) parts.push(latin1('/'))
    else if (first < 0.75) parts.push(latin1('//'))
    for (let p = 0, n = 1 + int(8); p < n; p++) {
      const kind = random()
      if (kind < 0.6) parts.push(Buffer.from(PIECES[int(PIECES.length)] as string, 'utf8'))
      else if (kind < 0.8) parts.push(Buffer.from(Array.from({ length: 1 + int(12) }, () => 'abcdefABCDEF0123456789-_'.charCodeAt(int(24)))))
      // Any byte but CR, LF and space, which would end the request line rather than fill the target.
      else parts.push(Buffer.from(Array.from({ length: 1 + int(4) }, () => ([0x0a, 0x0d, 0x20].includes(int(256)) ? 0x41 : int(256)))))
    }
    if (random() < 0.03) parts.push(latin1('x'.repeat(2000 + int(6000))))
    const target = Buffer.concat(parts)
    out.push({ name: `random #${i}: ${JSON.stringify(target.toString('latin1').slice(0, 60))}`, target })
  }
  return out
}

/** Malformed headers on an upgrade (or plain) request to a path the server does serve. */
export function malformedHeaderRequests(path: string): Array<{ name: string; bytes: Buffer }> {
  const upgradeHeaders = ['Upgrade: websocket', 'Connection: Upgrade', `Sec-WebSocket-Key: ${WS_KEY}`, 'Sec-WebSocket-Version: 13']
  return [
    { name: 'upgrade without Host', bytes: requestBytes(path, upgradeHeaders) },
    { name: 'plain GET without Host', bytes: requestBytes(path, ['Connection: close']) },
    { name: 'upgrade with Host "["', bytes: requestBytes(path, ['Host: [', ...upgradeHeaders]) },
    { name: 'plain GET with Host "["', bytes: requestBytes(path, ['Host: [', 'Connection: close']) },
    { name: 'upgrade with Host "a b"', bytes: requestBytes(path, ['Host: a b', ...upgradeHeaders]) },
    { name: 'two Host headers', bytes: requestBytes(path, ['Host: a', 'Host: b', ...upgradeHeaders]) },
    { name: 'duplicate Upgrade', bytes: requestBytes(path, ['Host: 127.0.0.1', 'Upgrade: websocket', ...upgradeHeaders]) },
    { name: 'Upgrade: h2c', bytes: requestBytes(path, ['Host: 127.0.0.1', 'Upgrade: h2c', 'Connection: Upgrade', `Sec-WebSocket-Key: ${WS_KEY}`, 'Sec-WebSocket-Version: 13']) },
    { name: 'empty Upgrade', bytes: requestBytes(path, ['Host: 127.0.0.1', 'Upgrade:', 'Connection: Upgrade', `Sec-WebSocket-Key: ${WS_KEY}`, 'Sec-WebSocket-Version: 13']) },
    { name: 'upgrade by POST', bytes: requestBytes(path, ['Host: 127.0.0.1', 'Content-Length: 0', ...upgradeHeaders], 'POST') },
    { name: 'huge header (20 KB)', bytes: requestBytes(path, ['Host: 127.0.0.1', `X-Big: ${'b'.repeat(20 * 1024)}`, ...upgradeHeaders]) },
    { name: 'many headers (2000)', bytes: requestBytes(path, ['Host: 127.0.0.1', ...Array.from({ length: 2000 }, (_, i) => `X-H${i}: v`), ...upgradeHeaders]) },
    { name: 'header without colon', bytes: requestBytes(path, ['Host: 127.0.0.1', 'NoColonHere', ...upgradeHeaders]) },
    { name: 'header name with space', bytes: requestBytes(path, ['Host: 127.0.0.1', 'Bad Name: x', ...upgradeHeaders]) },
    { name: 'NUL in a header value', bytes: requestBytes(path, ['Host: 127.0.0.1', 'X-A: a\x00b', ...upgradeHeaders]) },
    { name: 'non-ASCII header value', bytes: requestBytes(path, ['Host: 127.0.0.1', 'X-A: \xff\xfe', ...upgradeHeaders]) },
    { name: 'no Sec-WebSocket-Key', bytes: upgradeGet(path, [], { key: null }) },
    { name: 'short Sec-WebSocket-Key', bytes: upgradeGet(path, [], { key: 'abc' }) },
    { name: 'Sec-WebSocket-Key not base64', bytes: upgradeGet(path, [], { key: '!!!!!!!!!!!!!!!!!!!!!!==' }) },
    { name: 'two Sec-WebSocket-Keys', bytes: upgradeGet(path, [`Sec-WebSocket-Key: ${WS_KEY}`]) },
    { name: 'no Sec-WebSocket-Version', bytes: upgradeGet(path, [], { version: null }) },
    { name: 'Sec-WebSocket-Version 12', bytes: upgradeGet(path, [], { version: '12' }) },
    { name: 'Sec-WebSocket-Version abc', bytes: upgradeGet(path, [], { version: 'abc' }) },
    { name: 'Sec-WebSocket-Version 1e400', bytes: upgradeGet(path, [], { version: '1e400' }) },
    { name: 'Sec-WebSocket-Protocol junk', bytes: upgradeGet(path, ['Sec-WebSocket-Protocol: ,,,;;;']) },
    { name: 'Sec-WebSocket-Extensions junk', bytes: upgradeGet(path, ['Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=99;;;=']) },
    { name: 'Content-Length and chunked', bytes: requestBytes(path, ['Host: 127.0.0.1', 'Content-Length: 5', 'Transfer-Encoding: chunked', 'Connection: close']) },
    { name: 'negative Content-Length', bytes: requestBytes(path, ['Host: 127.0.0.1', 'Content-Length: -1', 'Connection: close']) },
    { name: 'HTTP/1.0 upgrade', bytes: Buffer.from(`GET ${path} HTTP/1.0\r\nHost: 127.0.0.1\r\n${upgradeHeaders.map((h) => `${h}\r\n`).join('')}\r\n`, 'latin1') },
    { name: 'HTTP/9.9', bytes: Buffer.from(`GET ${path} HTTP/9.9\r\nHost: 127.0.0.1\r\n\r\n`, 'latin1') },
    { name: 'lowercase method', bytes: Buffer.from(`get ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`, 'latin1') },
    { name: 'bare LF line ends', bytes: Buffer.from(`GET ${path} HTTP/1.1\nHost: 127.0.0.1\n${upgradeHeaders.map((h) => `${h}\n`).join('')}\n`, 'latin1') },
  ]
}

/**
 * Sends each target as a plain GET and as a WebSocket upgrade (8 connections at a time) and
 * fails the test for every answer `acceptable` refuses; returns the answers in request order.
 */
export async function sendTargets(t: Test, port: number, cases: TargetCase[], acceptable: (answer: RawAnswer) => boolean): Promise<Array<{ name: string; answer: RawAnswer }>> {
  const requests = cases.flatMap((c) => [
    { name: `GET ${c.name}`, bytes: plainGet(c.target) },
    { name: `upgrade ${c.name}`, bytes: upgradeGet(c.target) },
  ])
  const answers = await mapLimit(requests, 8, (r) => rawExchange(port, r.bytes))
  const out = requests.map((r, i) => ({ name: r.name, answer: answers[i] as RawAnswer }))
  let failed = 0
  for (const { name, answer } of out) {
    if (acceptable(answer)) continue
    failed++
    t.fail(`${name}: ${describe(answer)}`)
  }
  if (failed === 0) t.pass(`all ${requests.length} requests answered as expected`)
  return out
}

/**
 * Opens `count` connections that each send `bytes` and then go away: reset (TCP RST) at once,
 * on the next turn, after 1 ms, or closed politely, in turn. The server must shrug each off.
 */
export async function resetAfterSending(port: number, bytes: Buffer, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const socket = connect(port, '127.0.0.1')
    socket.on('error', () => {})
    const connected = await new Promise<boolean>((resolve) => {
      socket.once('connect', () => resolve(true))
      socket.once('close', () => resolve(false))
    })
    // Refused: the server is gone, which the caller's liveness check reports.
    if (!connected) return
    socket.write(bytes)
    switch (i % 4) {
      case 0:
        socket.resetAndDestroy()
        break
      case 1:
        setImmediate(() => socket.resetAndDestroy())
        break
      case 2:
        setTimeout(() => socket.resetAndDestroy(), 1)
        break
      default:
        socket.end()
    }
    if (i % 25 === 24) await new Promise((resolve) => setTimeout(resolve, 5))
  }
  await new Promise((resolve) => setTimeout(resolve, 300))
}

/** The same targets under a path prefix (`/v1/chunks/`: the origin's fast path, the edge's chunk tier). */
export function underPrefix(prefix: string, cases: TargetCase[]): TargetCase[] {
  return cases.map((c) => ({ name: `${prefix} + ${c.name}`, target: Buffer.concat([Buffer.from(prefix), c.target.subarray(c.target[0] === 0x2f ? 1 : 0)]) }))
}

/** A real path with a few bytes changed, inserted or cut (never a space or line break: those would end the request line). */
export function mutatedPaths(path: string, seed: number, count: number): TargetCase[] {
  const random = seeded(seed)
  const int = (n: number) => Math.floor(random() * n)
  const out: TargetCase[] = []
  for (let i = 0; i < count; i++) {
    const bytes = [...Buffer.from(path)]
    for (let m = 0, n = 1 + int(3); m < n; m++) {
      const at = 1 + int(bytes.length - 1)
      const byte = int(256)
      const kind = int(3)
      if (kind === 0) bytes[at] = byte
      else if (kind === 1) bytes.splice(at, 0, byte)
      else bytes.splice(at, 1)
    }
    const target = Buffer.from(bytes.map((b) => ([0x0a, 0x0d, 0x20].includes(b) ? 0x2e : b)))
    out.push({ name: `mutated #${i}: ${JSON.stringify(target.toString('latin1'))}`, target })
  }
  return out
}
