/** Argument checks shared by the policies. */

export function checkCapacity(capacityBytes: unknown): number {
  if (typeof capacityBytes !== 'number' || !Number.isSafeInteger(capacityBytes) || capacityBytes < 1) {
    throw new TypeError(`capacityBytes must be a positive integer, got ${String(capacityBytes)}`)
  }
  return capacityBytes
}

export function checkSize(size: number): void {
  // Written as a negated range test so NaN fails too; this runs on every request.
  if (!(size >= 0 && size <= Number.MAX_SAFE_INTEGER)) {
    throw new RangeError(`size must be a non-negative finite number, got ${String(size)}`)
  }
}
