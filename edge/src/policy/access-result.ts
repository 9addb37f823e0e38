/** Shared, frozen results, so a hit or a plain insert allocates nothing. */
import type { AccessResult } from './types.js'

const EMPTY: readonly string[] = Object.freeze([])

export const HIT: AccessResult = Object.freeze({ hit: true, stored: true, evicted: EMPTY })
const STORED: AccessResult = Object.freeze({ hit: false, stored: true, evicted: EMPTY })
export const REJECTED: AccessResult = Object.freeze({ hit: false, stored: false, evicted: EMPTY })

export function stored(evicted: string[]): AccessResult {
  return evicted.length === 0 ? STORED : { hit: false, stored: true, evicted }
}
