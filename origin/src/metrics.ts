/**
 * Minimal Prometheus text exposition: counters with labels and one latency histogram. Small on
 * purpose; the origin needs a handful of series, not a metrics library.
 */
const BUCKETS_MS = [0.5, 1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500]

const labelCache = new Map<string, string>()

function labelText(labels: Record<string, string>): string {
  // Requests repeat a few label sets; building their text once keeps counting off the hot path.
  let key = ''
  for (const name in labels) key += `${name}\u0000${labels[name]}\u0000`
  const hit = labelCache.get(key)
  if (hit !== undefined) return hit
  const text = buildLabelText(labels)
  if (labelCache.size < 10_000) labelCache.set(key, text)
  return text
}

function buildLabelText(labels: Record<string, string>): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${v.replace(/["\\\n]/g, '_')}"`)
  return parts.length ? `{${parts.join(',')}}` : ''
}

export function createMetrics(prefix: string) {
  const counters = new Map<string, { help: string; values: Map<string, number> }>()
  const buckets = new Array<number>(BUCKETS_MS.length + 1).fill(0)
  let sumMs = 0
  let count = 0

  function inc(name: string, help: string, labels: Record<string, string> = {}, by = 1): void {
    let c = counters.get(name)
    if (!c) {
      c = { help, values: new Map() }
      counters.set(name, c)
    }
    const key = labelText(labels)
    c.values.set(key, (c.values.get(key) ?? 0) + by)
  }

  /**
   * One labelled series resolved once, for a hot path that counts the same series again and
   * again: adding to it is a map write with no label text to build.
   */
  function series(name: string, help: string, labels: Record<string, string> = {}): { add(by?: number): void } {
    let c = counters.get(name)
    if (!c) {
      c = { help, values: new Map() }
      counters.set(name, c)
    }
    const values = c.values
    const key = labelText(labels)
    if (!values.has(key)) values.set(key, 0)
    return { add: (by = 1) => void values.set(key, values.get(key)! + by) }
  }

  function observeMs(ms: number): void {
    let i = 0
    while (i < BUCKETS_MS.length && ms > BUCKETS_MS[i]!) i++
    buckets[i]!++
    sumMs += ms
    count++
  }

  function render(gauges: Record<string, { help: string; value: number }> = {}): string {
    const lines: string[] = []
    for (const [name, c] of counters) {
      lines.push(`# HELP ${prefix}_${name} ${c.help}`, `# TYPE ${prefix}_${name} counter`)
      for (const [labels, v] of c.values) lines.push(`${prefix}_${name}${labels} ${v}`)
    }
    for (const [name, g] of Object.entries(gauges)) {
      lines.push(`# HELP ${prefix}_${name} ${g.help}`, `# TYPE ${prefix}_${name} gauge`, `${prefix}_${name} ${g.value}`)
    }
    const h = `${prefix}_request_duration_seconds`
    lines.push(`# HELP ${h} Time from request to response headers.`, `# TYPE ${h} histogram`)
    let cumulative = 0
    BUCKETS_MS.forEach((le, i) => {
      cumulative += buckets[i]!
      lines.push(`${h}_bucket{le="${le / 1000}"} ${cumulative}`)
    })
    lines.push(`${h}_bucket{le="+Inf"} ${count}`, `${h}_sum ${sumMs / 1000}`, `${h}_count ${count}`)
    return `${lines.join('\n')}\n`
  }

  function counter(name: string, labels: Record<string, string> = {}): number {
    return counters.get(name)?.values.get(labelText(labels)) ?? 0
  }

  return { inc, series, observeMs, render, counter }
}

export type Metrics = ReturnType<typeof createMetrics>
