/**
 * The cache-policy replay benchmark: every eviction policy of the edge's
 * memory tier (and admission variants) against Belady's OPT, on a real web
 * trace shipped with the repository, on synthetic Spotify-like chunk
 * workloads (uniform and mixed object sizes) and on any trace given with
 * --trace, at several cache sizes. Writes bench/results/cache-policy.{json,md,svg}.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { cpus } from 'node:os'
import { basename, join } from 'node:path'
import { DEFAULT_POLICY } from '../../edge/core.js'
import type { PolicyName } from '../../edge/core.js'
import { renderChart } from './chart.js'
import type { Panel, Series } from './chart.js'
import { createChunkWorkload } from './chunk-workload.js'
import { belady } from './opt.js'
import { HELP, parseOptions, WEB07_TRACE } from './options.js'
import type { Options } from './options.js'
import { bytesLabel, goalLines, markdownGapTable, markdownTable, summarize, summaryLines, textGapTable, textTable, uniformSizes } from './report.js'
import type { Cell, SizeRow, WorkloadResult } from './report.js'
import { replay } from './replay.js'
import type { Variant } from './replay.js'
import { loadInt32Trace, uniformSize, workingSetBytes } from './trace.js'
import type { Trace } from './trace.js'

const OBJECT_BYTES = 32 * 1024
const COLORS: Record<PolicyName, string> = {
  lru: '#d62728',
  sieve: '#1f77b4',
  s3fifo: '#2ca02c',
  'w-tinylfu': '#9467bd',
  'chunk-aware': '#ff7f0e',
}

function variantsFor(options: Options): Variant[] {
  const variants: Variant[] = []
  for (const admitAfter of options.admit) {
    for (const policy of options.policies) {
      variants.push({ label: admitAfter === 1 ? policy : `${policy}+admit${admitAfter}`, policy, admitAfter })
    }
  }
  return variants
}

function capacityFor(trace: Trace, fraction: number): { bytes: number; objects: number } {
  const size = uniformSize(trace)
  if (size !== undefined && size > 0) {
    // Whole objects, so every policy and OPT hold exactly the same number.
    const objects = Math.max(1, Math.round(fraction * trace.keyNames.length))
    return { bytes: objects * size, objects }
  }
  const bytes = Math.max(1, Math.floor(fraction * workingSetBytes(trace)))
  return { bytes, objects: Math.round(fraction * trace.keyNames.length) }
}

function replayWorkload(trace: Trace, options: Options, deadline: number, log: (line: string) => void, extra: Pick<WorkloadResult, 'params' | 'shape'>): WorkloadResult {
  const variants = variantsFor(options)
  const sizes: SizeRow[] = []
  for (const fraction of options.fractions) {
    const capacity = capacityFor(trace, fraction)
    const optStarted = performance.now()
    const opt = belady(trace, capacity.bytes)
    const optMs = performance.now() - optStarted
    const results: Record<string, Cell> = {}
    for (const variant of variants) {
      if (performance.now() > deadline) {
        results[variant.label] = { missRatio: null, byteMissRatio: null, misses: null, ms: null, requestsPerSecond: null }
        continue
      }
      const r = replay(trace, variant, capacity.bytes)
      results[variant.label] = {
        missRatio: r.missRatio,
        byteMissRatio: r.byteMissRatio,
        misses: r.misses,
        ms: Math.round(r.ms),
        requestsPerSecond: Math.round(r.requests / (r.ms / 1000)),
      }
    }
    sizes.push({
      fraction,
      capacityBytes: capacity.bytes,
      capacityObjects: capacity.objects,
      opt: { missRatio: opt.missRatio, byteMissRatio: opt.byteMissRatio, misses: opt.misses, exact: opt.exact, ms: Math.round(optMs) },
      results,
    })
    log(`  ${trace.name} at ${(fraction * 100).toPrecision(2)}%: done`)
  }
  const labels = variants.map((v) => v.label)
  return {
    name: trace.name,
    description: trace.description,
    requests: trace.requests.length,
    uniqueObjects: trace.keyNames.length,
    objectBytes: uniformSize(trace) ?? null,
    workingSetBytes: workingSetBytes(trace),
    ...extra,
    labels,
    sizes,
    summary: summarize(labels, sizes),
  }
}

function chartPanels(workloads: readonly WorkloadResult[]): Panel[] {
  const panels: Panel[] = []
  for (const w of workloads) {
    const metrics = uniformSizes(w) ? (['missRatio'] as const) : (['missRatio', 'byteMissRatio'] as const)
    for (const metric of metrics) {
      const series: Series[] = [
        {
          label: 'OPT (Belady)',
          values: w.sizes.map((s) => s.opt[metric]),
          color: '#000',
          dashed: true,
          width: 2.5,
        },
      ]
      for (const label of w.labels) {
        const policy = label.split('+')[0] as PolicyName
        series.push({
          label,
          values: w.sizes.map((s) => s.results[label]?.[metric] ?? null),
          color: COLORS[policy] ?? '#7f7f7f',
          dashed: label.includes('+'),
          width: label.includes('+') ? 1.5 : 2,
        })
      }
      const title = `${w.name}: ${w.requests.toLocaleString('en-US')} requests${metric === 'byteMissRatio' ? ' (bytes)' : ''}`
      panels.push({ title, fractions: w.sizes.map((s) => s.fraction), series, ...(metric === 'byteMissRatio' ? { yLabel: 'byte miss ratio' } : {}) })
    }
  }
  return panels
}

function markdown(workloads: readonly WorkloadResult[], command: string, elapsed: number, skipped: boolean): string {
  const out: string[] = [
    '# Cache-policy replay',
    '',
    `Command: \`${command}\` (${elapsed.toFixed(1)} s, Node ${process.version}, ${cpus().length} CPUs, ${new Date().toISOString()}).`,
    '',
    'Miss ratio (misses / requests, cold misses included) and byte miss ratio (missed bytes / requested',
    "bytes) of the edge memory tier's eviction policies (`edge/src/policy/`) at cache sizes given as a",
    "share of each trace's working set (all the distinct objects it requests), next to Belady's OPT.",
    'Where every object has the same size capacities are whole objects, OPT is exact and byte and object',
    'ratios agree; with mixed sizes OPT is the farthest-next-use approximation and minimises misses, not',
    'bytes. `+admitN` variants only cache a key from its N-th miss (count-min sketch,',
    '`edge/src/policy/admission.ts`): each object then pays N-1 extra misses, a floor that shows at',
    'large sizes. M req/s is replay speed (policy work only) on a shared, noisy machine: a rough guide.',
    '',
  ]
  if (skipped) out.push('**The time budget ran out: some cells were not run (n/a).**', '')
  const goals = goalLines(workloads, DEFAULT_POLICY)
  if (goals.length > 0) out.push(`## Goals (issue 16; default policy ${DEFAULT_POLICY})`, '', ...goals.map((line) => `- ${line}`), '')
  for (const w of workloads) {
    out.push(`## ${w.name}`, '', w.description, '')
    out.push(`${w.requests.toLocaleString('en-US')} requests, ${w.uniqueObjects.toLocaleString('en-US')} distinct objects, working set ${bytesLabel(w.workingSetBytes)}.`)
    if (w.shape !== undefined) {
      out.push(
        `Generated shape: ${((w.shape.topPlayShare as number) * 100).toFixed(1)}% of plays to the top 12% of tracks, ` +
          `${((w.shape.endedEarlyShare as number) * 100).toFixed(1)}% of plays end before the last chunk, ` +
          `${(w.shape.meanChunksPerPlay as number).toFixed(1)} chunks per play on average (Zipf exponent ${(w.params!.zipfExponent as number).toFixed(3)}).`,
      )
    }
    out.push('', 'Miss ratio:', '', markdownTable(w), '')
    if (!uniformSizes(w)) out.push('Byte miss ratio:', '', markdownTable(w, 'byteMissRatio'), '')
    out.push('Points above OPT (miss ratio):', '', markdownGapTable(w), '')
    out.push(...summaryLines(w).map((line) => `- ${line}`), '')
  }
  out.push('![miss ratio against cache size](cache-policy.svg)', '')
  return out.join('\n')
}

async function loadWorkloads(options: Options, log: (line: string) => void): Promise<Array<{ trace: Trace; extra: Pick<WorkloadResult, 'params' | 'shape'> }>> {
  const loaded: Array<{ trace: Trace; extra: Pick<WorkloadResult, 'params' | 'shape'> }> = []
  const files: Array<{ file: string; name: string; description: string }> = []
  if (options.workloads.includes('web07')) {
    files.push({
      file: WEB07_TRACE,
      name: 'web07',
      description: 'cache2k web07 trace (headissue GmbH, CC BY 4.0, bench/data/): product-detail page requests, July 2013; every object counted as 32 KiB.',
    })
  }
  for (const file of options.traces) {
    files.push({
      file,
      name: basename(file)
        .replace(/\.xz$/, '')
        .replace(/\.(trace|trc|bin)$/, ''),
      description: `${file}: big-endian int32 keys; every object counted as 32 KiB.`,
    })
  }
  for (const { file, name, description } of files) {
    if (!existsSync(file)) throw new Error(`trace ${file} not found`)
    let trace: Trace
    try {
      trace = await loadInt32Trace(file, { name, description, objectBytes: OBJECT_BYTES, ...(options.limit === undefined ? {} : { limit: options.limit }) })
    } catch (error) {
      // The shipped trace is xz-compressed: without xz, say so and run the rest.
      if (file !== WEB07_TRACE || !(error instanceof Error) || !error.message.startsWith('cannot run xz')) throw error
      process.stderr.write(`warning: skipping web07: ${error.message} (install xz, e.g. the xz-utils package)\n`)
      continue
    }
    log(`${name}: ${trace.requests.length} requests, ${trace.keyNames.length} objects`)
    loaded.push({ trace, extra: {} })
  }
  for (const objectSizes of ['uniform', 'mixed'] as const) {
    if (!options.workloads.includes(objectSizes === 'uniform' ? 'chunks' : 'chunks-mixed')) continue
    const chunks = createChunkWorkload({
      seed: options.seed,
      tracks: options.tracks,
      plays: options.plays,
      listeners: options.listeners,
      chunkBytes: OBJECT_BYTES,
      objectSizes,
    })
    log(`${chunks.name}: ${chunks.requests.length} requests, ${chunks.keyNames.length} objects`)
    loaded.push({ trace: chunks, extra: { params: chunks.params, shape: chunks.shape } })
  }
  return loaded
}

export async function run(argv: string[]): Promise<void> {
  const options = parseOptions(argv)
  if (options === null) {
    process.stdout.write(HELP)
    return
  }
  const started = performance.now()
  const deadline = started + options.budgetSeconds * 1000
  const log = (line: string): void => {
    if (!options.quiet) process.stderr.write(`${line}\n`)
  }
  const workloads: WorkloadResult[] = []
  for (const { trace, extra } of await loadWorkloads(options, log)) {
    workloads.push(replayWorkload(trace, options, deadline, log, extra))
  }

  const elapsed = (performance.now() - started) / 1000
  const skipped = workloads.some((w) => w.sizes.some((s) => Object.values(s.results).some((c) => c.missRatio === null)))
  const command = `npm run bench -- cache-policy${argv.length > 0 ? ` ${argv.join(' ')}` : ''}`
  mkdirSync(options.outDir, { recursive: true })
  const json = {
    benchmark: 'cache-policy',
    command,
    generatedAt: new Date().toISOString(),
    node: process.version,
    cpus: cpus().length,
    elapsedSeconds: Math.round(elapsed * 10) / 10,
    budgetExceeded: skipped,
    defaultPolicy: DEFAULT_POLICY,
    goals: goalLines(workloads, DEFAULT_POLICY),
    workloads,
  }
  writeFileSync(join(options.outDir, 'cache-policy.json'), `${JSON.stringify(json, null, 2)}\n`)
  writeFileSync(join(options.outDir, 'cache-policy.md'), markdown(workloads, command, elapsed, skipped))
  writeFileSync(join(options.outDir, 'cache-policy.svg'), renderChart('Miss ratio against memory-tier size (lower is better)', chartPanels(workloads)))

  for (const w of workloads) {
    if (!options.quiet) {
      process.stdout.write(`\n${w.name}: ${w.requests} requests, ${w.uniqueObjects} objects, working set ${bytesLabel(w.workingSetBytes)}\nmiss ratio:\n${textTable(w)}\n`)
      if (!uniformSizes(w)) process.stdout.write(`byte miss ratio:\n${textTable(w, 'byteMissRatio')}\n`)
      process.stdout.write(`points above OPT:\n${textGapTable(w)}\n`)
    }
    process.stdout.write(`${w.name}: ${summaryLines(w).join(`\n${w.name}: `)}\n`)
  }
  for (const line of json.goals) process.stdout.write(`goal: ${line}\n`)
  if (skipped) process.stdout.write(`warning: the ${options.budgetSeconds} s budget ran out; some cells were skipped\n`)
  process.stdout.write(`wrote ${join(options.outDir, 'cache-policy.{json,md,svg}')} in ${elapsed.toFixed(1)} s\n`)
}
