/**
 * The cache-policy replay benchmark: every eviction policy of the edge's
 * memory tier (and admission variants) against Belady's OPT, on a real web
 * trace and on a synthetic Spotify-like chunk workload, at several cache
 * sizes. Writes bench/results/cache-policy.{json,md,svg}.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { cpus } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { isPolicyName, POLICY_NAMES } from '../../edge/src/policy/index.js'
import type { PolicyName } from '../../edge/src/policy/index.js'
import { renderChart } from './chart.js'
import type { Panel, Series } from './chart.js'
import { createChunkWorkload } from './chunk-workload.js'
import { belady } from './opt.js'
import { bytesLabel, markdownTable, summarize, summaryLines, textTable } from './report.js'
import type { Cell, SizeRow, WorkloadResult } from './report.js'
import { replay } from './replay.js'
import type { Variant } from './replay.js'
import { loadInt32Trace, uniformSize, workingSetBytes } from './trace.js'
import type { Trace } from './trace.js'

const OBJECT_BYTES = 32 * 1024
const DEFAULT_TRACE = process.env.CHORUS_WEB07_TRACE ?? '/work/shared/data/web07.trace.xz'
const DEFAULT_OUT = fileURLToPath(new URL('../results/', import.meta.url))
const COLORS: Record<PolicyName, string> = { lru: '#d62728', sieve: '#1f77b4', s3fifo: '#2ca02c' }

const HELP = `Usage: npx tsx bench/cache-policy/main.ts [options]

Replays request traces through the edge's memory-tier eviction policies
(lru, sieve, s3fifo, and "+admitN" admission variants) next to Belady's OPT.

Options:
  --trace PATH       web07 trace, xz-compressed big-endian int32 keys
                     (default ${DEFAULT_TRACE}; "none" to skip)
  --limit N          replay only the first N requests of the trace
  --tracks N         chunk workload: catalog size (default 5000)
  --plays N          chunk workload: number of plays (default 20000)
  --listeners N      chunk workload: concurrent listeners (default 64)
  --seed N           chunk workload seed (default 1)
  --sizes LIST       cache sizes as fractions of the working set
                     (default 0.001,0.01,0.05,0.1,0.25)
  --policies LIST    default ${POLICY_NAMES.join(',')}
  --admit LIST       admitAfter values to try (default 1,2; 1 = no filter)
  --budget SECONDS   stop starting new replays after this long (default 300)
  --out DIR          where to write cache-policy.{json,md,svg} (default bench/results)
  --quick            small slices of both workloads (seconds)
  --quiet            print only the summary
  --help             this text
`

interface Options {
  trace: string | null
  limit: number | undefined
  tracks: number
  plays: number
  listeners: number
  seed: number
  fractions: number[]
  policies: PolicyName[]
  admit: number[]
  budgetSeconds: number
  outDir: string
  quiet: boolean
}

function positiveInt (name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback
  const n = Number(value)
  if (!Number.isSafeInteger(n) || n < 1) throw new TypeError(`--${name} must be a positive integer, got ${value}`)
  return n
}

function parseOptions (argv: string[]): Options | null {
  const { values } = parseArgs({
    args: argv,
    options: {
      trace: { type: 'string' },
      limit: { type: 'string' },
      tracks: { type: 'string' },
      plays: { type: 'string' },
      listeners: { type: 'string' },
      seed: { type: 'string' },
      sizes: { type: 'string' },
      policies: { type: 'string' },
      admit: { type: 'string' },
      budget: { type: 'string' },
      out: { type: 'string' },
      quick: { type: 'boolean', default: false },
      quiet: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false }
    },
    strict: true
  })
  if (values.help) return null
  const quick = values.quick
  const fractions = (values.sizes ?? '0.001,0.01,0.05,0.1,0.25').split(',').map((s) => {
    const f = Number(s)
    if (!(f > 0 && f <= 1)) throw new TypeError(`--sizes takes fractions in (0, 1], got ${s}`)
    return f
  }).sort((a, b) => a - b)
  const policies = (values.policies ?? POLICY_NAMES.join(',')).split(',').map((name) => {
    if (!isPolicyName(name)) throw new TypeError(`--policies: unknown policy ${name} (known: ${POLICY_NAMES.join(', ')})`)
    return name
  })
  const admit = (values.admit ?? '1,2').split(',').map((s) => positiveInt('admit', s, 1))
  const trace = values.trace === 'none' ? null : (values.trace ?? DEFAULT_TRACE)
  return {
    trace,
    limit: values.limit === undefined ? (quick ? 20000 : undefined) : positiveInt('limit', values.limit, 0),
    tracks: positiveInt('tracks', values.tracks, quick ? 400 : 5000),
    plays: positiveInt('plays', values.plays, quick ? 500 : 20000),
    listeners: positiveInt('listeners', values.listeners, quick ? 16 : 64),
    seed: positiveInt('seed', values.seed, 1),
    fractions,
    policies,
    admit,
    budgetSeconds: positiveInt('budget', values.budget, 300),
    outDir: resolve(values.out ?? DEFAULT_OUT),
    quiet: values.quiet
  }
}

function variantsFor (options: Options): Variant[] {
  const variants: Variant[] = []
  for (const admitAfter of options.admit) {
    for (const policy of options.policies) {
      variants.push({ label: admitAfter === 1 ? policy : `${policy}+admit${admitAfter}`, policy, admitAfter })
    }
  }
  return variants
}

function capacityFor (trace: Trace, fraction: number): { bytes: number, objects: number } {
  const size = uniformSize(trace)
  if (size !== undefined && size > 0) {
    // Whole objects, so every policy and OPT hold exactly the same number.
    const objects = Math.max(1, Math.round(fraction * trace.keyNames.length))
    return { bytes: objects * size, objects }
  }
  const bytes = Math.max(1, Math.floor(fraction * workingSetBytes(trace)))
  return { bytes, objects: Math.round(fraction * trace.keyNames.length) }
}

function replayWorkload (
  trace: Trace,
  options: Options,
  deadline: number,
  log: (line: string) => void,
  extra: Pick<WorkloadResult, 'params' | 'shape'>
): WorkloadResult {
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
        results[variant.label] = { missRatio: null, misses: null, ms: null, requestsPerSecond: null }
        continue
      }
      const r = replay(trace, variant, capacity.bytes)
      results[variant.label] = {
        missRatio: r.missRatio,
        misses: r.misses,
        ms: Math.round(r.ms),
        requestsPerSecond: Math.round(r.requests / (r.ms / 1000))
      }
    }
    sizes.push({
      fraction,
      capacityBytes: capacity.bytes,
      capacityObjects: capacity.objects,
      opt: { missRatio: opt.missRatio, misses: opt.misses, exact: opt.exact, ms: Math.round(optMs) },
      results
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
    summary: summarize(labels, sizes)
  }
}

function chartPanels (workloads: readonly WorkloadResult[]): Panel[] {
  return workloads.map((w) => {
    const series: Series[] = [{
      label: 'OPT (Belady)',
      values: w.sizes.map((s) => s.opt.missRatio),
      color: '#000',
      dashed: true,
      width: 2.5
    }]
    for (const label of w.labels) {
      const policy = label.split('+')[0] as PolicyName
      series.push({
        label,
        values: w.sizes.map((s) => s.results[label]?.missRatio ?? null),
        color: COLORS[policy],
        dashed: label.includes('+'),
        width: label.includes('+') ? 1.5 : 2
      })
    }
    return { title: `${w.name}: ${w.requests.toLocaleString('en-US')} requests`, fractions: w.sizes.map((s) => s.fraction), series }
  })
}

function markdown (workloads: readonly WorkloadResult[], command: string, elapsed: number, skipped: boolean): string {
  const out: string[] = [
    '# Cache-policy replay',
    '',
    `Command: \`${command}\` (${elapsed.toFixed(1)} s, Node ${process.version}, ${cpus().length} CPUs, ${new Date().toISOString()}).`,
    '',
    'Miss ratio (misses / requests, cold misses included) of the edge memory tier\'s eviction policies',
    '(`edge/src/policy/`) at cache sizes given as a share of each trace\'s working set (all the distinct',
    'objects it requests), next to Belady\'s OPT. Every object is 32 KiB here, so capacities are whole',
    'objects and OPT is exact. `+admitN` variants only cache a key from its N-th miss (count-min sketch,',
    '`edge/src/policy/admission.ts`): each object then pays N-1 extra misses, a floor that shows at',
    'large sizes. M req/s is replay speed on a shared, noisy machine: a rough guide.',
    ''
  ]
  if (skipped) out.push('**The time budget ran out: some cells were not run (n/a).**', '')
  for (const w of workloads) {
    out.push(`## ${w.name}`, '', w.description, '')
    out.push(`${w.requests.toLocaleString('en-US')} requests, ${w.uniqueObjects.toLocaleString('en-US')} distinct objects, working set ${bytesLabel(w.workingSetBytes)}.`)
    if (w.shape !== undefined) {
      out.push(`Generated shape: ${(w.shape.topPlayShare as number * 100).toFixed(1)}% of plays to the top 12% of tracks, ` +
        `${(w.shape.endedEarlyShare as number * 100).toFixed(1)}% of plays end before the last chunk, ` +
        `${(w.shape.meanChunksPerPlay as number).toFixed(1)} chunks per play on average (Zipf exponent ${(w.params?.zipfExponent as number).toFixed(3)}).`)
    }
    out.push('', markdownTable(w), '', ...summaryLines(w).map((line) => `- ${line}`), '')
  }
  out.push('![miss ratio against cache size](cache-policy.svg)', '')
  return out.join('\n')
}

export async function run (argv: string[]): Promise<void> {
  const options = parseOptions(argv)
  if (options === null) {
    process.stdout.write(HELP)
    return
  }
  const started = performance.now()
  const deadline = started + options.budgetSeconds * 1000
  const log = (line: string): void => { if (!options.quiet) process.stderr.write(`${line}\n`) }
  const workloads: WorkloadResult[] = []

  if (options.trace !== null) {
    if (existsSync(options.trace)) {
      const trace = await loadInt32Trace(options.trace, {
        name: 'web07',
        description: 'cache2k web07 trace (headissue GmbH, CC BY 4.0): product-detail page requests, July 2013; every object counted as 32 KiB.',
        objectBytes: OBJECT_BYTES,
        ...(options.limit === undefined ? {} : { limit: options.limit })
      })
      log(`web07: ${trace.requests.length} requests, ${trace.keyNames.length} objects`)
      workloads.push(replayWorkload(trace, options, deadline, log, {}))
    } else {
      process.stderr.write(`warning: ${options.trace} not found; skipping the web07 trace (use --trace PATH)\n`)
    }
  }

  const chunks = createChunkWorkload({
    seed: options.seed,
    tracks: options.tracks,
    plays: options.plays,
    listeners: options.listeners,
    chunkBytes: OBJECT_BYTES
  })
  log(`chunks: ${chunks.requests.length} requests, ${chunks.keyNames.length} objects`)
  workloads.push(replayWorkload(chunks, options, deadline, log, { params: chunks.params, shape: chunks.shape }))

  const elapsed = (performance.now() - started) / 1000
  const skipped = workloads.some((w) => w.sizes.some((s) => Object.values(s.results).some((c) => c.missRatio === null)))
  const command = `npx tsx bench/cache-policy/main.ts${argv.length > 0 ? ` ${argv.join(' ')}` : ''}`
  mkdirSync(options.outDir, { recursive: true })
  const json = {
    benchmark: 'cache-policy',
    command,
    generatedAt: new Date().toISOString(),
    node: process.version,
    cpus: cpus().length,
    elapsedSeconds: Math.round(elapsed * 10) / 10,
    budgetExceeded: skipped,
    workloads
  }
  writeFileSync(join(options.outDir, 'cache-policy.json'), `${JSON.stringify(json, null, 2)}\n`)
  writeFileSync(join(options.outDir, 'cache-policy.md'), markdown(workloads, command, elapsed, skipped))
  writeFileSync(join(options.outDir, 'cache-policy.svg'), renderChart('Miss ratio against memory-tier size (lower is better)', chartPanels(workloads)))

  for (const w of workloads) {
    if (!options.quiet) process.stdout.write(`\n${w.name}: ${w.requests} requests, ${w.uniqueObjects} objects, working set ${bytesLabel(w.workingSetBytes)}\n${textTable(w)}\n`)
    process.stdout.write(`${w.name}: ${summaryLines(w).join(`\n${w.name}: `)}\n`)
  }
  if (skipped) process.stdout.write(`warning: the ${options.budgetSeconds} s budget ran out; some cells were skipped\n`)
  process.stdout.write(`wrote ${join(options.outDir, 'cache-policy.{json,md,svg}')} in ${elapsed.toFixed(1)} s\n`)
}
