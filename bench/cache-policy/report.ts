/** Tables, the summary and the issue's goals, as plain text for the console and as Markdown. */

export interface Cell {
  readonly missRatio: number | null
  readonly byteMissRatio: number | null
  readonly misses: number | null
  readonly ms: number | null
  readonly requestsPerSecond: number | null
}

export interface SizeRow {
  readonly fraction: number
  readonly capacityBytes: number
  readonly capacityObjects: number
  readonly opt: { readonly missRatio: number; readonly byteMissRatio: number; readonly misses: number; readonly exact: boolean; readonly ms: number }
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
  readonly meanByteMissRatio: Readonly<Record<string, number>>
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

type Metric = 'missRatio' | 'byteMissRatio'

function mean(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0) / Math.max(1, values.length)
}

export function summarize(labels: readonly string[], sizes: readonly SizeRow[]): Summary | null {
  const complete = labels.filter((label) => sizes.every((row) => row.results[label]?.missRatio != null))
  if (complete.length === 0 || sizes.length === 0) return null
  const meanMissRatio: Record<string, number> = {}
  const meanByteMissRatio: Record<string, number> = {}
  for (const label of complete) {
    meanMissRatio[label] = mean(sizes.map((row) => row.results[label]?.missRatio as number))
    meanByteMissRatio[label] = mean(sizes.map((row) => row.results[label]?.byteMissRatio as number))
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
      timesOpt: row.opt.missRatio === 0 ? Number.POSITIVE_INFINITY : value / row.opt.missRatio,
    }
  })
  return { best, meanMissRatio, meanByteMissRatio, bySize }
}

function percent(value: number | null | undefined, digits = 1): string {
  return value === null || value === undefined ? 'n/a' : `${(value * 100).toFixed(digits)}%`
}

function sizeLabel(fraction: number): string {
  const p = fraction * 100
  return `${p >= 1 ? p.toFixed(0) : p.toPrecision(1)}%`
}

export function bytesLabel(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let value = bytes
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return `${value.toFixed(value >= 100 || unit === 0 ? 0 : 1)} ${units[unit] as string}`
}

function capacityLabel(w: WorkloadResult, s: SizeRow): string {
  return w.objectBytes === null ? bytesLabel(s.capacityBytes) : `${s.capacityObjects} obj`
}

function rows(w: WorkloadResult, metric: Metric): string[][] {
  const header = ['policy', ...w.sizes.map((s) => `${sizeLabel(s.fraction)} (${capacityLabel(w, s)})`), 'mean', 'M req/s']
  const body: string[][] = [header]
  body.push(['OPT (Belady)', ...w.sizes.map((s) => percent(s.opt[metric])), percent(mean(w.sizes.map((s) => s.opt[metric]))), ''])
  for (const label of w.labels) {
    const cells = w.sizes.map((s) => s.results[label])
    const ratios = cells.map((c) => c?.[metric] ?? null)
    const speeds = cells.map((c) => c?.requestsPerSecond ?? null).filter((v): v is number => v !== null)
    body.push([label, ...ratios.map((r) => percent(r)), ratios.includes(null) ? 'n/a' : percent(mean(ratios as number[])), speeds.length === 0 ? 'n/a' : (mean(speeds) / 1e6).toFixed(2)])
  }
  return body
}

/** Points above OPT's miss ratio, per variant and size. */
function gapRows(w: WorkloadResult): string[][] {
  const body: string[][] = [['policy', ...w.sizes.map((s) => sizeLabel(s.fraction))]]
  for (const label of w.labels) {
    body.push([
      label,
      ...w.sizes.map((s) => {
        const r = s.results[label]?.missRatio
        return r == null ? 'n/a' : ((r - s.opt.missRatio) * 100).toFixed(1)
      }),
    ])
  }
  return body
}

function text(body: string[][]): string {
  const widths = (body[0] as string[]).map((_, i) => Math.max(...body.map((r) => (r[i] ?? '').length)))
  return body.map((r) => r.map((cell, i) => (i === 0 ? cell.padEnd(widths[i] as number) : cell.padStart(widths[i] as number))).join('  ')).join('\n')
}

function markdown(body: string[][]): string {
  const header = body[0] as string[]
  return [`| ${header.join(' | ')} |`, `| ${header.map((_, i) => (i === 0 ? '---' : '---:')).join(' | ')} |`, ...body.slice(1).map((r) => `| ${r.join(' | ')} |`)].join('\n')
}

/** True when every object of the workload has the same size (byte and object ratios then agree). */
export function uniformSizes(w: WorkloadResult): boolean {
  return w.objectBytes !== null
}

export function textTable(w: WorkloadResult, metric: Metric = 'missRatio'): string {
  return text(rows(w, metric))
}

export function markdownTable(w: WorkloadResult, metric: Metric = 'missRatio'): string {
  return markdown(rows(w, metric))
}

export function markdownGapTable(w: WorkloadResult): string {
  return markdown(gapRows(w))
}

export function textGapTable(w: WorkloadResult): string {
  return text(gapRows(w))
}

export function summaryLines(w: WorkloadResult): string[] {
  const s = w.summary
  if (s === null) return ['(no complete variant: summary skipped)']
  const ranked = Object.entries(s.meanMissRatio).sort((a, b) => a[1] - b[1])
  const runnerUp = ranked[1]
  const lines = [
    `lowest mean miss ratio: ${s.best} (${percent(s.meanMissRatio[s.best], 2)} mean over the sizes)` + (runnerUp === undefined ? '' : `, next ${runnerUp[0]} (${percent(runnerUp[1], 2)})`),
  ]
  for (const row of s.bySize) {
    const vsLru = row.fewerMissesThanLru === null ? 'LRU not run' : `${(row.fewerMissesThanLru * 100).toFixed(1)}% fewer misses than LRU (${row.pointsBelowLru?.toFixed(1)} points)`
    lines.push(
      `at ${sizeLabel(row.fraction)}: ${s.best} ${percent(row.best)}, LRU ${percent(row.lru)}, OPT ${percent(row.opt)}: ` +
        `${vsLru}; ${row.pointsAboveOpt.toFixed(1)} points above OPT (${row.timesOpt.toFixed(2)}x)` +
        (row.winner !== s.best ? `; best at this size: ${row.winner}` : ''),
    )
  }
  return lines
}

/**
 * Issue 16's goals, checked on this run: on the chunk workload, gaps to OPT
 * at 1 % and 10 % at most half of s3fifo's when the issue was written (7.9
 * and 5.5 points), the chunk-aware policy ahead of W-TinyLFU at every size,
 * the default policy the best there; on web07, the default within 1 point
 * of W-TinyLFU.
 */
const GOAL_GAPS: ReadonlyArray<{ fraction: number; points: number }> = [
  { fraction: 0.01, points: 7.9 / 2 },
  { fraction: 0.1, points: 5.5 / 2 },
]

export function goalLines(workloads: readonly WorkloadResult[], defaultPolicy: string): string[] {
  const lines: string[] = []
  const mark = (ok: boolean): string => (ok ? 'met' : 'NOT met')
  const chunks = workloads.find((w) => w.name === 'chunks')
  if (chunks !== undefined) {
    for (const goal of GOAL_GAPS) {
      const row = chunks.sizes.find((s) => Math.abs(s.fraction - goal.fraction) < 1e-9)
      if (row === undefined) continue
      const gaps = chunks.labels
        .filter((label) => row.results[label]?.missRatio != null)
        .map((label) => `${label} ${(((row.results[label]?.missRatio as number) - row.opt.missRatio) * 100).toFixed(1)}`)
      const own = row.results[defaultPolicy]?.missRatio
      const gap = own == null ? null : (own - row.opt.missRatio) * 100
      lines.push(
        `chunks at ${sizeLabel(goal.fraction)}: gap to OPT (points) ${gaps.join(', ')}; goal for ${defaultPolicy} <= ${goal.points.toFixed(2)}: ` +
          (gap === null ? 'not run' : `${gap.toFixed(2)}, ${mark(gap <= goal.points)}`),
      )
    }
    const behind = chunks.sizes.filter((s) => {
      const ours = s.results['chunk-aware']?.missRatio
      const theirs = s.results['w-tinylfu']?.missRatio
      return ours == null || theirs == null || ours >= theirs
    })
    if (chunks.labels.includes('chunk-aware') && chunks.labels.includes('w-tinylfu')) {
      lines.push(
        `chunks: chunk-aware ahead of w-tinylfu at every size: ${behind.length === 0 ? 'met' : `NOT met at ${behind.map((s) => sizeLabel(s.fraction)).join(', ')}`} (` +
          chunks.sizes.map((s) => `${sizeLabel(s.fraction)} ${percent(s.results['chunk-aware']?.missRatio)} vs ${percent(s.results['w-tinylfu']?.missRatio)}`).join(', ') +
          ')',
      )
    }
    if (chunks.summary !== null) {
      lines.push(`chunks: the default (${defaultPolicy}) has the lowest mean miss ratio: ${mark(chunks.summary.best === defaultPolicy)} (best ${chunks.summary.best})`)
    }
  }
  const web07 = workloads.find((w) => w.name === 'web07')
  if (web07?.summary != null) {
    const ours = web07.summary.meanMissRatio[defaultPolicy]
    const theirs = web07.summary.meanMissRatio['w-tinylfu']
    if (ours !== undefined && theirs !== undefined) {
      const worst = Math.max(...web07.sizes.map((s) => ((s.results[defaultPolicy]?.missRatio as number) - (s.results['w-tinylfu']?.missRatio as number)) * 100))
      lines.push(
        `web07: ${defaultPolicy} ${percent(ours, 2)} mean against w-tinylfu ${percent(theirs, 2)}: ${((ours - theirs) * 100).toFixed(2)} points ` +
          `(worst size ${worst.toFixed(2)}); goal no worse by more than 1 point: ${mark(worst <= 1)}`,
      )
    }
  }
  return lines
}
