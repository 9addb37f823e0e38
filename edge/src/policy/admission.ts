/**
 * "Admit after N requests": a key enters the cache only from its N-th
 * request on, so objects requested once never displace anything.
 *
 * Counts live in a count-min sketch (4 rows of 8-bit counters, conservative
 * update), so memory is fixed whatever the number or length of keys (256 KiB
 * at the default window: 4 rows of 2 x window cells). Every
 * `window` records all counters are halved: old interest fades, and the
 * sketch stays sparse enough to be accurate. A sketch can only over-count,
 * so a key may be admitted early (rarely: about 2 % of keys at the default
 * sizes), never late within its window.
 */

export interface AdmissionOptions {
  /** Requests a key needs before it is admitted; 1 admits everything. */
  admitAfter: number
  /** Records between two halvings of every counter; default 32768. */
  window?: number
}

export interface AdmissionFilter {
  readonly admitAfter: number
  /** Counts one request for `key`; true when the key may now be cached. */
  record(key: string): boolean
  /** The (possibly over-) estimated count of requests for `key`. */
  estimate(key: string): number
}

const ROWS = 4
const MAX_COUNT = 255
const MAX_WINDOW = 1 << 24

export function createAdmissionFilter(options: AdmissionOptions): AdmissionFilter {
  const { admitAfter } = options
  if (!Number.isInteger(admitAfter) || admitAfter < 1 || admitAfter > MAX_COUNT) {
    throw new TypeError(`admitAfter must be an integer from 1 to ${MAX_COUNT}, got ${String(admitAfter)}`)
  }
  const window = options.window ?? 32768
  if (!Number.isInteger(window) || window < 1 || window > MAX_WINDOW) {
    throw new TypeError(`window must be an integer from 1 to ${MAX_WINDOW}, got ${String(window)}`)
  }
  if (admitAfter === 1) {
    return { admitAfter, record: () => true, estimate: () => 0 }
  }
  // Two cells per record of the window keeps each row about 2/3 empty even
  // when every record is a distinct key.
  let width = 64
  while (width < window * 2) width *= 2
  const mask = width - 1
  const cells = new Uint8Array(ROWS * width)
  const slots = new Uint32Array(ROWS)
  let records = 0

  function locate(key: string): void {
    // FNV-1a, then a second hash derived from it for double hashing.
    let h = 0x811c9dc5
    for (let i = 0; i < key.length; i++) {
      h = Math.imul(h ^ key.charCodeAt(i), 0x01000193)
    }
    let g = Math.imul(h ^ (h >>> 16), 0x85ebca6b)
    g = Math.imul(g ^ (g >>> 13), 0xc2b2ae35)
    g = (g ^ (g >>> 16)) | 1
    for (let row = 0; row < ROWS; row++) {
      slots[row] = row * width + ((h + Math.imul(row, g)) & mask)
    }
  }

  function minimum(): number {
    let min = MAX_COUNT
    for (let row = 0; row < ROWS; row++) {
      const value = cells[slots[row] as number] as number
      if (value < min) min = value
    }
    return min
  }

  function age(): void {
    for (let i = 0; i < cells.length; i++) cells[i] = (cells[i] as number) >>> 1
    records = 0
  }

  return {
    admitAfter,
    record(key: string): boolean {
      locate(key)
      const count = Math.min(MAX_COUNT, minimum() + 1)
      // Conservative update: raise only the cells below the new estimate,
      // which keeps over-counting from keys sharing a cell low.
      for (let row = 0; row < ROWS; row++) {
        const slot = slots[row] as number
        if ((cells[slot] as number) < count) cells[slot] = count
      }
      if (++records >= window) age()
      return count >= admitAfter
    },
    estimate(key: string): number {
      locate(key)
      return minimum()
    },
  }
}
