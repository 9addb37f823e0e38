/**
 * A request trace in the shape the replay wants: dense integer ids (so OPT
 * can use typed arrays), one string name per id (what the policies see), and
 * a size per id.
 */
import { spawn } from 'node:child_process'
import { open } from 'node:fs/promises'

export interface Trace {
  readonly name: string
  readonly description: string
  /** Dense key ids, 0..keyNames.length-1, in order of first request. */
  readonly requests: Int32Array
  readonly keyNames: readonly string[]
  readonly sizes: Float64Array
}

export function workingSetBytes(trace: Trace): number {
  let sum = 0
  for (const size of trace.sizes) sum += size
  return sum
}

/** The size shared by every object, or undefined when sizes differ. */
export function uniformSize(trace: Trace): number | undefined {
  const first = trace.sizes[0]
  for (const size of trace.sizes) if (size !== first) return undefined
  return first
}

/** Renumbers raw ids densely, in order of first appearance. */
export function compactTrace(name: string, description: string, raw: ArrayLike<number>, nameOf: (rawId: number) => string, sizeOf: (rawId: number) => number): Trace {
  const ids = new Map<number, number>()
  const requests = new Int32Array(raw.length)
  const keyNames: string[] = []
  const sizes: number[] = []
  for (let i = 0; i < raw.length; i++) {
    const rawId = raw[i] as number
    let id = ids.get(rawId)
    if (id === undefined) {
      id = keyNames.length
      ids.set(rawId, id)
      keyNames.push(nameOf(rawId))
      sizes.push(sizeOf(rawId))
    }
    requests[i] = id
  }
  return { name, description, requests, keyNames, sizes: Float64Array.from(sizes) }
}

/** Runs `xz -dc file` and returns the decompressed bytes, at most maxBytes of them. */
async function readXz(file: string, maxBytes = Number.POSITIVE_INFINITY): Promise<Buffer> {
  return await new Promise((resolve, reject) => {
    const child = spawn('xz', ['-dc', file], { stdio: ['ignore', 'pipe', 'pipe'] })
    const parts: Buffer[] = []
    let length = 0
    let stderr = ''
    let enough = false
    child.stdout.on('data', (part: Buffer) => {
      if (enough) return
      parts.push(part)
      length += part.length
      if (length >= maxBytes) {
        enough = true
        child.kill()
      }
    })
    child.stderr.on('data', (part: Buffer) => {
      stderr += part.toString()
    })
    child.on('error', (error) => reject(new Error(`cannot run xz to read ${file}: ${error.message}`)))
    child.on('close', (code) => {
      if (!enough && code !== 0) {
        reject(new Error(`xz -dc ${file} exited with ${String(code)}: ${stderr.trim()}`))
        return
      }
      const all = Buffer.concat(parts)
      resolve(all.subarray(0, Math.min(all.length, maxBytes)))
    })
  })
}

export interface Int32TraceOptions {
  name: string
  description: string
  /** Bytes per object: these traces carry no sizes. */
  objectBytes: number
  /** Replay only the first `limit` requests. */
  limit?: number
}

/** Reads at most maxBytes of a file as it is. */
async function readRaw(file: string, maxBytes: number): Promise<Buffer> {
  const handle = await open(file, 'r')
  try {
    const { size } = await handle.stat()
    const length = Math.min(size, maxBytes)
    const buffer = Buffer.alloc(length)
    await handle.read(buffer, 0, length, 0)
    return buffer
  } finally {
    await handle.close()
  }
}

/**
 * A trace of big-endian int32 keys, one per request (the cache2k traces'
 * format), xz-compressed when the file name ends in `.xz`, raw otherwise.
 */
export async function loadInt32Trace(file: string, options: Int32TraceOptions): Promise<Trace> {
  const maxBytes = options.limit === undefined ? Number.POSITIVE_INFINITY : options.limit * 4
  const bytes = file.endsWith('.xz') ? await readXz(file, maxBytes) : await readRaw(file, maxBytes)
  const count = Math.floor(bytes.length / 4)
  const view = new DataView(bytes.buffer, bytes.byteOffset, count * 4)
  const raw = new Int32Array(count)
  for (let i = 0; i < count; i++) raw[i] = view.getInt32(i * 4, false)
  return compactTrace(
    options.name,
    options.description,
    raw,
    (id) => String(id),
    () => options.objectBytes,
  )
}
