import type { Test } from 'tap'
import { type Finished, type ReadyValue, type Supervised, runProcess, startProcess } from '../support/process.js'

/** The real `chorus` command line, as a user runs it. */
const ROOT = new URL('../', import.meta.url).pathname
const CHORUS = new URL('../bin/chorus.js', import.meta.url).pathname

/** The children's environment: this one, less wrangler's metrics prompt, plus `env`. */
function childEnv(env: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { ...process.env, WRANGLER_SEND_METRICS: 'false', ...env }
}

/** Runs `chorus <args>` to its end (SIGKILL past `timeoutMs`), with its output. */
export function runChorus(args: string[], options: { env?: NodeJS.ProcessEnv; timeoutMs?: number; cwd?: string } = {}): Promise<Finished> {
  return runProcess({
    name: `chorus ${args[0] ?? ''}`,
    args: [CHORUS, ...args],
    env: childEnv(options.env),
    ...(options.cwd !== undefined && { cwd: options.cwd }),
    ...(options.timeoutMs !== undefined && { timeoutMs: options.timeoutMs }),
  })
}

export type Chorus = Supervised & { readyValue: ReadyValue<'json-line'> }

/**
 * A `chorus` server (`start`, `origin`, `edge`, ...) run with --json, resolved once its JSON
 * ready line is out; stopped (SIGTERM, then SIGKILL) when the test ends.
 */
async function startChorus(t: Test, args: string[], options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<Chorus> {
  const p = await startProcess({
    name: `chorus ${args[0] ?? ''}`,
    args: [CHORUS, ...args, '--json'],
    env: childEnv(options.env),
    cwd: ROOT,
    ready: 'json-line',
    timeoutMs: options.timeoutMs ?? 240_000,
  })
  // A generous grace: `chorus start` stops its own children first, and a SIGKILL would orphan them.
  t.teardown(() => p.stop(30_000))
  return p
}

/** `chorus start` on free ports over `dataDir`. Its ready line has every part's URL. */
export function startChorusStack(t: Test, dataDir: string, extra: string[] = [], options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<Chorus> {
  return startChorus(t, ['start', '--data', dataDir, '--origin-port', '0', '--tracker-port', '0', '--edge-port', '0', ...extra], options)
}
