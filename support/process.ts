import { type ChildProcess, spawn } from 'node:child_process'
import { createServer } from 'node:net'

/**
 * One process supervisor for everything that runs a server as a child: `chorus start`, the
 * benchmarks, `chorus edge` (wrangler) and the tests. Spawn, wait until it is ready (a JSON
 * ready line, a line matching a pattern, or a probe such as an HTTP health check), stop it
 * (SIGTERM, then SIGKILL after a grace period), stop them all.
 */

export interface ProcessSpec {
  /** What errors call it: `origin`, `wrangler dev`, `chorus start`. */
  name: string
  args: string[]
  /** Default: this Node (process.execPath). */
  command?: string
  cwd?: string
  /** The whole environment of the child (default: this process's). */
  env?: NodeJS.ProcessEnv
  /**
   * Run it as the leader of its own process group and signal the group: for children with
   * children of their own (wrangler runs workerd), which a signal to the leader alone would orphan.
   */
  group?: boolean
  /** An IPC channel as well (child.send, 'message'), as child_process.fork gives. */
  ipc?: boolean
  /** Every chunk of output as it comes, for a caller that shows or parses it. */
  onOutput?: (chunk: Buffer, stream: 'stdout' | 'stderr') => void
  /** Every complete line of stdout. */
  onLine?: (line: string) => void
}

/** When a child counts as ready. */
export type Readiness<T> =
  /** The first stdout line that is a JSON object with `"ready": true` (what every chorus server prints with --json). */
  | 'json-line'
  /** The first line, stdout or stderr, that matches. */
  | RegExp
  /** Polled every 200 ms until it resolves true; a throw is a start failure, with that message. */
  | { probe: () => Promise<boolean> }
  | { line: (line: string) => T | undefined }

export type ReadyValue<R> = R extends 'json-line'
  ? Record<string, unknown> & { url: string }
  : R extends RegExp
    ? RegExpMatchArray
    : R extends { line: (line: string) => infer T | undefined }
      ? T
      : true

export interface Exit {
  code: number | null
  signal: NodeJS.Signals | null
}

/** A start that failed: the child's last lines of stderr are in the message and in `stderrTail`. */
export class ProcessError extends Error {
  override name = 'ProcessError'
  constructor(
    message: string,
    readonly stderrTail: string,
    readonly exit?: Exit,
  ) {
    super(message)
  }
}

export interface Supervised {
  readonly name: string
  readonly child: ChildProcess
  /** Resolves once the child has exited (never rejects). */
  readonly exited: Promise<Exit>
  /** Whether the child has exited. */
  readonly done: boolean
  /** The last few KB of stderr. */
  stderr(): string
  /** The last `lines` non-empty lines of stderr, joined with ' / ' (for one-line errors). */
  stderrTail(lines?: number): string
  /**
   * Resolves once the child is ready; rejects (the child still running) if it exits first or
   * `timeoutMs` passes. Lines count from the call on: call it in the same tick as supervise().
   */
  ready<R extends Readiness<unknown>>(readiness: R, timeoutMs?: number): Promise<ReadyValue<R>>
  /** `signal` (SIGTERM; to the group, for a group), then SIGKILL after `graceMs`; resolves once it has exited. */
  stop(graceMs?: number, signal?: NodeJS.Signals): Promise<Exit>
}

const TAIL_CHARS = 8000
const DEFAULT_READY_TIMEOUT_MS = 60_000
const DEFAULT_GRACE_MS = 5000

/** Still running; this process's own end takes them along, however it comes. */
const live = new Set<Supervised & { signal(s: NodeJS.Signals): void }>()
let exitHooked = false
function hookExit(): void {
  if (exitHooked) return
  exitHooked = true
  process.once('exit', () => {
    for (const p of live) p.signal('SIGTERM')
  })
}

function lastLines(text: string, n: number): string {
  return text.trim().split('\n').filter(Boolean).slice(-n).join(' / ')
}

/** Spawns the child now; `ready()` and `stop()` come later. */
export function supervise(spec: ProcessSpec): Supervised {
  const child = spawn(spec.command ?? process.execPath, spec.args, {
    ...(spec.cwd !== undefined && { cwd: spec.cwd }),
    env: spec.env ?? process.env,
    stdio: spec.ipc ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe'],
    detached: spec.group === true,
  })
  let err = ''
  let outLine = ''
  let errLine = ''
  const lineListeners = new Set<(line: string) => void>()
  const each = (buffered: string, chunk: string, stream: 'stdout' | 'stderr'): string => {
    let rest = buffered + chunk
    for (let nl = rest.indexOf('\n'); nl >= 0; nl = rest.indexOf('\n')) {
      const line = rest.slice(0, nl)
      rest = rest.slice(nl + 1)
      if (stream === 'stdout') spec.onLine?.(line)
      for (const l of lineListeners) l(line)
    }
    // A line with no end in sight is kept only in part.
    return rest.length > TAIL_CHARS ? rest.slice(-TAIL_CHARS) : rest
  }
  child.stdout!.on('data', (d: Buffer) => {
    spec.onOutput?.(d, 'stdout')
    outLine = each(outLine, d.toString(), 'stdout')
  })
  child.stderr!.on('data', (d: Buffer) => {
    spec.onOutput?.(d, 'stderr')
    err = (err + d).slice(-TAIL_CHARS)
    errLine = each(errLine, d.toString(), 'stderr')
  })

  let exit: Exit | undefined
  let spawnError: Error | undefined
  const exited = new Promise<Exit>((resolve) => {
    child.once('error', (e) => {
      // Spawning failed (no such command): no 'exit' follows.
      spawnError = e
      if (child.pid === undefined) {
        exit = { code: null, signal: null }
        resolve(exit)
      }
    })
    child.once('exit', (code, signal) => {
      exit = { code, signal }
      resolve(exit)
    })
  })

  const signal = (s: NodeJS.Signals) => {
    if (exit || child.pid === undefined) return
    try {
      if (spec.group) process.kill(-child.pid, s)
      else child.kill(s)
    } catch {}
  }

  const self: Supervised & { signal(s: NodeJS.Signals): void } = {
    name: spec.name,
    child,
    exited,
    signal,
    get done() {
      return exit !== undefined
    },
    stderr: () => err,
    stderrTail: (n = 3) => lastLines(err, n),
    ready(readiness, timeoutMs = DEFAULT_READY_TIMEOUT_MS) {
      return waitReady(self, readiness, timeoutMs, lineListeners, () => spawnError) as Promise<never>
    },
    async stop(graceMs = DEFAULT_GRACE_MS, first: NodeJS.Signals = 'SIGTERM') {
      if (exit) return exit
      signal(first)
      const timer = setTimeout(() => signal('SIGKILL'), graceMs)
      timer.unref()
      const e = await exited
      clearTimeout(timer)
      return e
    },
  }
  live.add(self)
  hookExit()
  void exited.then(() => live.delete(self))
  return self
}

function waitReady(p: Supervised, readiness: Readiness<unknown>, timeoutMs: number, lineListeners: Set<(line: string) => void>, spawnError: () => Error | undefined): Promise<unknown> {
  return new Promise((resolve, reject) => {
    let settled = false
    const finish = (fn: () => void) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      lineListeners.delete(onLine)
      fn()
    }
    const timer = setTimeout(() => finish(() => reject(new ProcessError(`${p.name} did not become ready in ${timeoutMs / 1000} s: ${p.stderrTail() || 'no output'}`, p.stderr()))), timeoutMs)
    void p.exited.then((exit) => {
      const why = spawnError()?.message ?? p.stderrTail()
      finish(() => reject(new ProcessError(`${p.name} exited (${exit.code ?? exit.signal}) before it was ready: ${why || 'no output'}`, p.stderr(), exit)))
    })
    const onLine = (line: string) => {
      if (readiness === 'json-line') {
        if (!line.startsWith('{')) return
        try {
          const msg = JSON.parse(line)
          if (msg?.ready === true) finish(() => resolve(msg))
        } catch {}
      } else if (readiness instanceof RegExp) {
        const m = line.match(readiness)
        if (m) finish(() => resolve(m))
      } else if ('line' in readiness) {
        const v = readiness.line(line)
        if (v !== undefined) finish(() => resolve(v))
      }
    }
    if (typeof readiness === 'object' && 'probe' in readiness) {
      const poll = async () => {
        while (!settled) {
          try {
            if (await readiness.probe()) return finish(() => resolve(true))
          } catch (e) {
            return finish(() => reject(new ProcessError((e as Error).message, p.stderr())))
          }
          await new Promise((r) => setTimeout(r, 200))
        }
      }
      void poll()
    } else {
      lineListeners.add(onLine)
    }
  })
}

/** Spawns and waits until ready; a child that does not get there is stopped before the error is thrown. */
export async function startProcess<R extends Readiness<unknown>>(spec: ProcessSpec & { ready: R; timeoutMs?: number }): Promise<Supervised & { readyValue: ReadyValue<R> }> {
  const p = supervise(spec)
  try {
    const readyValue = await p.ready(spec.ready, spec.timeoutMs)
    return Object.assign(p, { readyValue })
  } catch (err) {
    await p.stop()
    throw err
  }
}

/** Stops every one of them at once. */
export async function stopAll(processes: Iterable<Supervised>, graceMs = DEFAULT_GRACE_MS): Promise<void> {
  await Promise.all([...processes].map((p) => p.stop(graceMs)))
}

export interface Finished extends Exit {
  stdout: string
  stderr: string
}

/** Runs a command to its end and collects its output; SIGKILL after `timeoutMs`. */
export async function runProcess(spec: Omit<ProcessSpec, 'onLine'> & { timeoutMs?: number }): Promise<Finished> {
  let stdout = ''
  let stderr = ''
  const p = supervise({
    ...spec,
    onOutput: (chunk, stream) => {
      if (stream === 'stdout') stdout += chunk
      else stderr += chunk
      spec.onOutput?.(chunk, stream)
    },
  })
  const timer = setTimeout(() => void p.stop(0), spec.timeoutMs ?? 150_000)
  const exit = await p.exited
  clearTimeout(timer)
  // 'exit' may come before the last output: wait for the pipes to close.
  await new Promise<void>((resolve) => (p.child.stdout!.readableEnded && p.child.stderr!.readableEnded ? resolve() : p.child.once('close', () => resolve())))
  return { ...exit, stdout, stderr }
}

/**
 * A TCP port free on `host` right now, for a child that must be told its port up front (wrangler
 * dev, a server restarted on the same port). Another process may take it before the child
 * binds; children that can report the port they got are started on port 0 instead.
 */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, host, () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
}
