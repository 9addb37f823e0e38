/**
 * Canonical JSON: object keys sorted by code unit, no whitespace, no undefined, finite numbers
 * only. The manifest signature covers these bytes, so two runtimes that parse and re-serialize a
 * manifest must produce the same string; JSON.stringify alone does not promise key order.
 */
export function canonicalJson(value: unknown): string {
  if (value === null) return 'null'
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false'
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError('canonical JSON has no non-finite numbers')
      return JSON.stringify(value)
    case 'string':
      return JSON.stringify(value)
    case 'object': {
      if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`
      const keys = Object.keys(value).sort()
      const parts: string[] = []
      for (const key of keys) {
        const v = (value as Record<string, unknown>)[key]
        if (v === undefined) continue
        parts.push(`${JSON.stringify(key)}:${canonicalJson(v)}`)
      }
      return `{${parts.join(',')}}`
    }
    default:
      throw new TypeError(`canonical JSON cannot hold a ${typeof value}`)
  }
}
