import { type ChildProcess, execFileSync, spawn } from 'node:child_process'

export const ROOT = new URL('../../', import.meta.url).pathname

export interface Started {
  child: ChildProcess
  ready: Record<string, unknown> & { url: string }
  stop(): Promise<void>
}

/** Starts a server process that prints a `{"ready":true,...}` line, and resolves once it has. */
export function startReady(command: string, args: string[], options: { env?: NodeJS.ProcessEnv; timeoutMs?: number; cwd?: string } = {}): Promise<Started> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd ?? ROOT, env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`${args.join(' ')} did not become ready: ${err.slice(-500)}`))
    }, options.timeoutMs ?? 60_000)
    const stop = () =>
      new Promise<void>((done) => {
        if (child.exitCode !== null || child.signalCode !== null) return done()
        child.once('exit', () => done())
        child.kill('SIGTERM')
        setTimeout(() => child.kill('SIGKILL'), 5000).unref()
      })
    child.stderr!.on('data', (d) => (err += d))
    child.stdout!.on('data', (d) => {
      out += d
      for (const line of out.split('\n')) {
        if (!line.startsWith('{')) continue
        try {
          const parsed = JSON.parse(line)
          if (parsed.ready) {
            clearTimeout(timer)
            child.stdout!.removeAllListeners('data')
            child.stdout!.resume()
            resolve({ child, ready: parsed, stop })
            return
          }
        } catch {}
      }
    })
    child.on('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`${args.join(' ')} exited with ${code} before it was ready: ${err.slice(-800)}`))
    })
  })
}

export const tsxArgs = (file: string, ...args: string[]) => ['--import', 'tsx', file, ...args]

/**
 * Pins a process and all its threads to one CPU, so that a server and its load generator each
 * have a core of their own. False where taskset is missing: the figures are then shared-core
 * figures, and the reports say so.
 */
export function pin(child: ChildProcess, cpu: number): boolean {
  try {
    execFileSync('taskset', ['-a', '-p', '-c', String(cpu), String(child.pid)], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}
