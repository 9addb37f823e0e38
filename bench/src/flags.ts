import { UsageError } from '../../support/command.js'

/*
 * Numbers in a range come from support/command.ts (intOption, numberOption), as for every
 * `chorus` command; this is the one flag only the benchmarks have.
 */

/** The results' base name (bench/results/<name>.json): lowercase letters, digits and dashes. */
export function resultName(value: string | undefined, fallback: string): string {
  const name = value ?? fallback
  if (!/^[a-z0-9][a-z0-9-]{0,60}$/.test(name)) throw new UsageError(`--name must be lowercase letters, digits and dashes, not '${name}'`)
  return name
}
