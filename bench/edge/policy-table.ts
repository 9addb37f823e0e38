import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { RESULTS_DIR, mdTable } from '../src/report.js'

interface PolicyResults {
  command?: string
  generatedAt?: string
  workloads?: Array<{
    name: string
    description?: string
    sizes: Array<{ fraction: number; capacityObjects?: number; opt: { missRatio: number }; results: Record<string, { missRatio: number | null }> }>
    labels: string[]
    summary?: { best: string; meanMissRatio: Record<string, number> } | null
  }>
}

const pct = (x: number | null | undefined) => (typeof x === 'number' ? `${(x * 100).toFixed(1)}%` : 'n/a')

/**
 * The miss-ratio tables of the cache-policy replay (bench/cache-policy, run on its own), shown
 * beside the serving figures so one report says both how fast the edge serves a hit and how
 * often its memory tier has one. Undefined when that benchmark has not run.
 */
export async function policyTables(): Promise<{ markdown: string; best: Record<string, string> } | undefined> {
  let data: PolicyResults
  try {
    data = JSON.parse(await readFile(join(RESULTS_DIR, 'cache-policy.json'), 'utf8')) as PolicyResults
  } catch {
    return undefined
  }
  if (!Array.isArray(data.workloads) || data.workloads.length === 0) return undefined
  const best: Record<string, string> = {}
  const parts = [
    `From \`bench/results/cache-policy.json\` (${data.command ?? 'npm run bench -- cache-policy'}, ${data.generatedAt ?? 'undated'}): miss ratio of the memory tier's policies by cache size (share of the working set), beside Belady's OPT.`,
  ]
  for (const w of data.workloads) {
    if (w.summary?.best) best[w.name] = w.summary.best
    const header = ['policy', ...w.sizes.map((s) => `${+(s.fraction * 100).toFixed(2)}%`), 'mean']
    const mean = (label: string) => w.summary?.meanMissRatio[label]
    const optMean = w.sizes.reduce((n, s) => n + s.opt.missRatio, 0) / w.sizes.length
    const rows = [
      ['OPT (Belady)', ...w.sizes.map((s) => pct(s.opt.missRatio)), pct(optMean)],
      ...w.labels.map((label) => [label === w.summary?.best ? `**${label}**` : label, ...w.sizes.map((s) => pct(s.results[label]?.missRatio)), pct(mean(label))]),
    ]
    parts.push(`### ${w.name}\n\n${w.description ?? ''}\n\n${mdTable(header, rows)}`)
  }
  return { markdown: parts.join('\n\n'), best }
}
