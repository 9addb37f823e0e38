import { parseArgs, type ParseArgsConfig } from 'node:util'

/*
 * What every `chorus` subcommand and every benchmark parses its flags with. A leaf: it imports
 * no part, so each part's command line (origin/src/cli.ts, ...) and cli/main.ts, which only
 * dispatches to them, both depend on it and not on each other.
 */

/** A `chorus` subcommand. argv excludes the subcommand's own name; the result is the exit code. */
export interface Command {
  summary: string
  help: string
  run(argv: string[]): Promise<number>
}

export class UsageError extends Error {
  override name = 'UsageError'
}

type Options = NonNullable<ParseArgsConfig['options']>

/** parseArgs with errors turned into UsageError (exit 2 with the message, not a stack trace). */
export function parseCommandArgs<O extends Options>(argv: string[], options: O, allowPositionals = false) {
  try {
    return parseArgs({ args: argv, options: { ...options, help: { type: 'boolean', short: 'h' } }, allowPositionals, strict: true })
  } catch (err) {
    throw new UsageError((err as Error).message)
  }
}

export function intOption(value: string | undefined, name: string, fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  if (value === undefined) return fallback
  const n = Number(value)
  const range = max === Number.MAX_SAFE_INTEGER ? `${min} or more` : `from ${min} to ${max}`
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`--${name} must be a whole number ${range}, not '${value}'`)
  return n
}

/** A number (fractions allowed) from `min` to `max`. */
export function numberOption(value: string | undefined, name: string, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback
  const n = Number(value)
  if (value.trim() === '' || !Number.isFinite(n) || n < min || n > max) throw new UsageError(`--${name} must be a number from ${min} to ${max}, not '${value}'`)
  return n
}

export const DEFAULT_PORTS = { edge: 8787, origin: 8788, tracker: 8789 } as const

export function defaultDataDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.CHORUS_DATA ?? 'data'
}

/** The lines every server prints once it accepts connections. */
export function announceReady(json: boolean, name: string, info: { url: string } & Record<string, unknown>): void {
  if (json) process.stdout.write(`${JSON.stringify({ ready: true, ...info })}\n`)
  else process.stderr.write(`${name} listening on ${info.url}\n`)
}

const ignore = () => {}

/** Resolves on the first SIGINT or SIGTERM, so a server can close cleanly and exit 0. */
export function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (signal: NodeJS.Signals) => {
      process.off('SIGINT', on)
      process.off('SIGTERM', on)
      // Later signals are taken and ignored: a Ctrl-C reaches a whole process group, and then its
      // supervisor (chorus start) sends SIGTERM too; Node's default for that second one would end
      // this process in the middle of its stop, leaving its own children (a wrangler dev and its
      // workerd) behind. The stop is bounded by its own timers (SIGKILL after a grace period).
      process.on('SIGINT', ignore)
      process.on('SIGTERM', ignore)
      resolve(signal)
    }
    process.on('SIGINT', on)
    process.on('SIGTERM', on)
  })
}
