import { UsageError } from '../../support/command.js'

/*
 * Numbers in a range come from support/command.ts (intOption, numberOption), as for every
 * `chorus` command; what follows is only the benchmarks'.
 */

/** The results' base name (bench/results/<name>.json): lowercase letters, digits and dashes. */
export function resultName(value: string | undefined, fallback: string): string {
  const name = value ?? fallback
  if (!/^[a-z0-9][a-z0-9-]{0,60}$/.test(name)) throw new UsageError(`--name must be lowercase letters, digits and dashes, not '${name}'`)
  return name
}

/**
 * The emulated network's flags, alike in the playback benchmark and the sim so that one command
 * line describes both: round trips to the edge, their jitter, between peers and to the origin
 * (ms), and the listener's upload and download rates.
 */
export const NETWORK_FLAGS = {
  rtt: { type: 'string' },
  'rtt-jitter': { type: 'string' },
  'peer-rtt': { type: 'string' },
  'origin-rtt': { type: 'string' },
  upload: { type: 'string' },
  down: { type: 'string' },
} as const

/** The flags every benchmark that writes named results takes: where, under which name, how long, how loud. */
export const RESULT_FLAGS = {
  'out-dir': { type: 'string' },
  name: { type: 'string' },
  quick: { type: 'boolean' },
  quiet: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const
