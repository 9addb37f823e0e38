/**
 * Option values shared by every benchmark's parser: numbers in a range and the result file name.
 * Errors are RangeErrors naming the flag, which the bench runner prints as a usage error.
 */
export function numberFlag(value: string | undefined, name: string, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback
  const n = Number(value)
  if (!Number.isFinite(n) || n < min || n > max) throw new RangeError(`--${name} must be a number from ${min} to ${max}, not '${value}'`)
  return n
}

export function wholeFlag(value: string | undefined, name: string, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback
  const n = Number(value)
  if (!Number.isInteger(n) || n < min || n > max) throw new RangeError(`--${name} must be a whole number from ${min} to ${max}, not '${value}'`)
  return n
}

/** The results' base name (bench/results/<name>.json): lowercase letters, digits and dashes. */
export function resultName(value: string | undefined, fallback: string): string {
  const name = value ?? fallback
  if (!/^[a-z0-9][a-z0-9-]{0,60}$/.test(name)) throw new RangeError(`--name must be lowercase letters, digits and dashes, not '${name}'`)
  return name
}
