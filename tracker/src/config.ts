// Tracker options from environment-style variables (Worker vars, process.env): each option
// `fooBar` is read from `TRACKER_FOO_BAR`, so the two lists can never drift apart.

import type { TrackerOptions } from './core/options.js'
import { DEFAULT_TRACKER_OPTIONS } from './core/options.js'

export function envName(option: keyof TrackerOptions): string {
  return `TRACKER_${option.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`
}

/** Options set in `env`; a value that is not a number (or "true"/"false" for flags) is a TypeError. */
export function trackerOptionsFromEnv(env: Record<string, unknown>): Partial<TrackerOptions> {
  const options: Record<string, number | boolean> = {}
  for (const key of Object.keys(DEFAULT_TRACKER_OPTIONS) as (keyof TrackerOptions)[]) {
    const name = envName(key)
    const raw = env[name]
    if (raw === undefined || raw === '') continue
    const text = String(raw)
    if (typeof DEFAULT_TRACKER_OPTIONS[key] === 'boolean') {
      if (text !== 'true' && text !== 'false') throw new TypeError(`${name} must be "true" or "false", got "${text}"`)
      options[key] = text === 'true'
    } else {
      const value = Number(text)
      if (!Number.isSafeInteger(value)) throw new TypeError(`${name} must be an integer, got "${text}"`)
      options[key] = value
    }
  }
  return options as Partial<TrackerOptions>
}
