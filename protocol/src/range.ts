/**
 * HTTP Range for single-chunk bodies (RFC 9110 §14). Only one range is served: a chunk is at
 * most a few hundred KiB, so multipart answers would cost more than they save.
 */
export type RangeResult = { kind: 'none' } | { kind: 'partial'; start: number; end: number } | { kind: 'unsatisfiable'; reason: string }

export function parseRange(header: string | null | undefined, length: number): RangeResult {
  if (header === null || header === undefined || header === '') return { kind: 'none' }
  const m = /^bytes=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header.trim())
  if (!m) return { kind: 'unsatisfiable', reason: header.includes(',') ? 'multiple ranges are not supported' : 'malformed Range header' }
  const [, first, last] = m as unknown as [string, string, string]
  if (first === '' && last === '') return { kind: 'unsatisfiable', reason: 'malformed Range header' }
  let start: number
  let end: number
  if (first === '') {
    const suffix = Number(last)
    if (suffix === 0) return { kind: 'unsatisfiable', reason: 'empty suffix range' }
    start = Math.max(0, length - suffix)
    end = length - 1
  } else {
    start = Number(first)
    end = last === '' ? length - 1 : Math.min(Number(last), length - 1)
    if (last !== '' && Number(last) < start) return { kind: 'unsatisfiable', reason: 'range ends before it starts' }
  }
  if (start >= length || length === 0) return { kind: 'unsatisfiable', reason: `range starts past the end (${length} bytes)` }
  return { kind: 'partial', start, end }
}

/** RFC 9110 weak comparison for If-None-Match against one strong ETag. */
export function etagMatches(ifNoneMatch: string | null | undefined, etag: string): boolean {
  if (!ifNoneMatch) return false
  if (ifNoneMatch.trim() === '*') return true
  const bare = etag.replace(/^W\//, '')
  return ifNoneMatch.split(',').some((tag) => tag.trim().replace(/^W\//, '') === bare)
}
