import { type ChildProcess, execFileSync } from 'node:child_process'
import { startProcess } from '../../support/process.js'

export const ROOT = new URL('../../', import.meta.url).pathname

export interface Started {
  child: ChildProcess
  ready: Record<string, unknown> & { url: string }
  stop(): Promise<void>
}

/** Starts a server process that prints a `{"ready":true,...}` line, and resolves once it has. */
export async function startReady(command: string, args: string[], options: { env?: NodeJS.ProcessEnv; timeoutMs?: number; cwd?: string } = {}): Promise<Started> {
  const p = await startProcess({ name: args.join(' '), command, args, cwd: options.cwd ?? ROOT, env: { ...process.env, ...options.env }, ready: 'json-line', timeoutMs: options.timeoutMs ?? 60_000 })
  return { child: p.child, ready: p.readyValue, stop: async () => void (await p.stop()) }
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
