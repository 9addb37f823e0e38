/** Tables and the summary, as plain text for the console and as Markdown. */

export interface Cell {
  readonly missRatio: number | null
  readonly misses: number | null
  readonly ms: number | null
  readonly requestsPerSecond: number | null
}

export interface SizeRow {
  readonly fraction: number
  readonly capacityBytes: number
  readonly capacityObjects: number
  readonly opt: { readonly missRatio: number, readonly misses: number, readonly exact: boolean, readonly ms: number }
  readonly results: Readonly<Record<string, Cell>>
}

export interface WorkloadResult {
  readonly name: string
  readonly description: string
  readonly requests: number
  readonly uniqueObjects: number
  readonly objectBytes: number | null
  readonly workingSetBytes: number
  readonly params?: Record<string, unknown>
  readonly shape?: Record<string, number>
  readonly labels: readonly string[]
  readonly sizes: readonly SizeRow[]
  readonly summary: Summary | null
}

export interface Summary {
  /** Lowest mean miss ratio over the sizes (among variants with every size run). */
  readonly best: string
  readonly meanMissRatio: Readonly<Record<string, number>>
  readonly bySize: ReadonlyArray<{
    readonly fraction: number
    /** The variant with the lowest miss ratio at this size. */
    readonly winner: string
    readonly best: number
    readonly lru: number | null
    readonly opt: number
    /** Share of LRU's misses that the best avoids: 1 - best / lru. */
    readonly fewerMissesThanLru: number | null
    readonly pointsBelowLru: number | null
    readonly pointsAboveOpt: number
    readonly timesOpt: number
  }>
}

export function summarize (labels: readonly string[], sizes: readonly SizeRow[]): Summary | null {
  const complete = labels.filter((label) => sizes.every((row) => row.results[label]?.missRatio != null))
  if (complete.length === 0 || sizes.length === 0) return null
  const meanMissRatio: Record<string, number> = {}
  for (const label of complete) {
    meanMissRatio[label] = sizes.reduce((sum, row) => sum + (row.results[label]?.missRatio as number), 0) / sizes.length
  }
  const best = complete.reduce((a, b) => ((meanMissRatio[b] as number) < (meanMissRatio[a] as number) ? b : a))
  const bySize = sizes.map((row) => {
    const ratio = (label: string): number => row.results[label]?.missRatio as number
    const winner = complete.reduce((a, b) => (ratio(b) < ratio(a) ? b : a))
    const value = ratio(best)
    const lru = row.results.lru?.missRatio ?? null
    return {
      fraction: row.fraction,
      winner,
      best: value,
      lru,
      opt: row.opt.missRatio,
      fewerMissesThanLru: lru === null || lru === 0 ? null : 1 - value / lru,
      pointsBelowLru: lru === null ? null : (lru - value) * 100,
      pointsAboveOpt: (value - row.opt.missRatio) * 100,
      timesOpt: row.opt.missRatio === 0 ? Number.POSITIVE_INFINITY : value / row.opt.missRatio
    }
  })
  return { best, meanMissRatio, bySize }
}

export function percent (value: number | null | undefined, digits = 1): string {
  return value === null || value === undefined ? 'n/a' : `${(value * 100).toFixed(digits)}%`
}

export function sizeLabel (fraction: number): string {
  const p = fraction * 100
  return `${p >= 1 ? p.toFixed(0) : p.toPrecision(1)}%`
}

export function bytesLabel (bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let value = bytes
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return `${value.toFixed(value >= 100 || unit === 0 ? 0 : 1)} ${units[unit] as string}`
}

function rows (w: WorkloadResult): string[][] {
  const header = ['policy', ...w.sizes.map((s) => `${sizeLabel(s.fraction)} (${s.capacityObjects} obj)`), 'mean', 'M req/s']
  const body: string[][] = [header]
  body.push(['OPT (Belady)', ...w.sizes.map((s) => percent(s.opt.missRatio)), percent(mean(w.sizes.map((s) => s.opt.missRatio))), ''])
  for (const label of w.labels) {
    const cells = w.sizes.map((s) => s.results[label])
    const ratios = cells.map((c) => c?.missRatio ?? null)
    const speeds = cells.map((c) => c?.requestsPerSecond ?? null).filter((v): v is number => v !== null)
    body.push([
      label,
      ...ratios.map((r) => percent(r)),
      ratios.includes(null) ? 'n/a' : percent(mean(ratios as number[])),
      speeds.length === 0 ? 'n/a' : (mean(speeds) / 1e6).toFixed(2)
    ])
  }
  return body
}

function mean (values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0) / Math.max(1, values.length)
}

export function textTable (w: WorkloadResult): string {
  const body = rows(w)
  const widths = (body[0] as string[]).map((_, i) => Math.max(...body.map((r) => (r[i] ?? '').length)))
  return body.map((r) => r.map((cell, i) => (i === 0 ? cell.padEnd(widths[i] as number) : cell.padStart(widths[i] as number))).join('  ')).join('\n')
}

export function markdownTable (w: WorkloadResult): string {
  const body = rows(w)
  const header = body[0] as string[]
  return [
    `| ${header.join(' | ')} |`,
    `| ${header.map((_, i) => (i === 0 ? '---' : '---:')).join(' | ')} |`,
    ...body.slice(1).map((r) => `| ${r.join(' | ')} |`)
  ].join('\n')
}

export function summaryLines (w: WorkloadResult): string[] {
  const s = w.summary
  if (s === null) return ['(no complete variant: summary skipped)']
  const ranked = Object.entries(s.meanMissRatio).sort((a, b) => a[1] - b[1])
  const runnerUp = ranked[1]
  const lines = [
    `lowest mean miss ratio: ${s.best} (${percent(s.meanMissRatio[s.best], 2)} mean over the sizes)` +
    (runnerUp === undefined ? '' : `, next ${runnerUp[0]} (${percent(runnerUp[1], 2)})`)
  ]
  for (const row of s.bySize) {
    const vsLru = row.fewerMissesThanLru === null
      ? 'LRU not run'
      : `${(row.fewerMissesThanLru * 100).toFixed(1)}% fewer misses than LRU (${row.pointsBelowLru?.toFixed(1)} points)`
    lines.push(
      `at ${sizeLabel(row.fraction)}: ${s.best} ${percent(row.best)}, LRU ${percent(row.lru)}, OPT ${percent(row.opt)}: ` +
      `${vsLru}; ${row.pointsAboveOpt.toFixed(1)} points above OPT (${row.timesOpt.toFixed(2)}x)` +
      (row.winner !== s.best ? `; best at this size: ${row.winner}` : '')
    )
  }
  return lines
}
