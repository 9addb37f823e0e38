/** The replay's command line: `npx tsx bench/cache-policy/main.ts --help`. */
import { fileURLToPath } from 'node:url'
import { resolve } from 'node:path'
import { UsageError, intOption, parseCommandArgs } from '../../support/command.js'
import { isPolicyName, POLICY_NAMES } from '../../edge/core.js'
import type { PolicyName } from '../../edge/core.js'

/** Shipped with the repository (see bench/data/README.md), found from this file, not the working directory. */
export const WEB07_TRACE = fileURLToPath(new URL('../data/web07.trace.xz', import.meta.url))
const DEFAULT_OUT = fileURLToPath(new URL('../results/', import.meta.url))
const BUILT_IN_WORKLOADS = ['web07', 'chunks', 'chunks-mixed'] as const
type BuiltInWorkload = (typeof BUILT_IN_WORKLOADS)[number]

export const HELP = `Usage: npm run bench -- cache-policy [--option=value ...]
       npx tsx bench/cache-policy/main.ts [options]

Replays request traces through the edge's memory-tier eviction policies
(${POLICY_NAMES.join(', ')}, and "+admitN" admission variants) next to
Belady's OPT: miss ratio, byte miss ratio and replay speed by cache size.

Options:
  --trace LIST       more traces to replay, comma-separated: files of
                     big-endian int32 keys, one per request, xz-compressed
                     when named *.xz (the cache2k format of web07); every
                     object counted as 32 KiB
  --workloads LIST   built-in workloads (default ${BUILT_IN_WORKLOADS.join(',')}; "none"
                     for only --trace): web07 is bench/data/web07.trace.xz
  --limit N          replay only the first N requests of each trace file
  --tracks N         chunk workloads: catalog size (default 5000)
  --plays N          chunk workloads: number of plays (default 20000)
  --listeners N      chunk workloads: concurrent listeners (default 64)
  --seed N           chunk workload seed (default 1)
  --sizes LIST       cache sizes as fractions of the working set
                     (default 0.001,0.01,0.05,0.1,0.25)
  --policies LIST    default ${POLICY_NAMES.join(',')}
  --admit LIST       admitAfter values to try (default 1,2; 1 = no filter)
  --budget SECONDS   stop starting new replays after this long (default 900)
  --out DIR          where to write cache-policy.{json,md,svg} (default bench/results)
  --quick            small slices of every workload (seconds)
  --quiet            print only the summary
  --help             this text
`

export interface Options {
  workloads: BuiltInWorkload[]
  traces: string[]
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

/** A whole number from 1 up. */
function positiveInt(name: string, value: string | undefined, fallback: number): number {
  return intOption(value, name, fallback, 1)
}

/** `npm run` starts in the package root; a path the user typed is relative to where they typed it. */
function userPath(path: string): string {
  const typedIn = process.env.npm_command === 'run-script' ? process.env.INIT_CWD : undefined
  return resolve(typedIn ?? process.cwd(), path)
}

function list(value: string | undefined, fallback: string): string[] {
  const text = value ?? fallback
  return text === 'none' || text === ''
    ? []
    : text
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== '')
}

/** The options, or null for --help. */
export function parseOptions(argv: string[]): Options | null {
  const { values } = parseCommandArgs(argv, {
    trace: { type: 'string' },
    workloads: { type: 'string' },
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
    help: { type: 'boolean', short: 'h', default: false },
  })
  if (values.help) return null
  const quick = values.quick
  const fractions = list(values.sizes, '0.001,0.01,0.05,0.1,0.25')
    .map((s) => {
      const f = Number(s)
      if (!(f > 0 && f <= 1)) throw new UsageError(`--sizes takes fractions in (0, 1], got ${s}`)
      return f
    })
    .sort((a, b) => a - b)
  if (fractions.length === 0) throw new UsageError('--sizes needs at least one fraction')
  const policies = list(values.policies, POLICY_NAMES.join(',')).map((name) => {
    if (!isPolicyName(name)) throw new UsageError(`--policies: unknown policy ${name} (known: ${POLICY_NAMES.join(', ')})`)
    return name
  })
  const admit = list(values.admit, '1,2').map((s) => positiveInt('admit', s, 1))
  const workloads = list(values.workloads, BUILT_IN_WORKLOADS.join(',')).map((name) => {
    if (!(BUILT_IN_WORKLOADS as readonly string[]).includes(name)) {
      throw new UsageError(`--workloads: unknown workload ${name} (known: ${BUILT_IN_WORKLOADS.join(', ')}; more with --trace)`)
    }
    return name as BuiltInWorkload
  })
  return {
    workloads,
    traces: list(values.trace, 'none').map(userPath),
    limit: values.limit === undefined ? (quick ? 20000 : undefined) : positiveInt('limit', values.limit, 0),
    tracks: positiveInt('tracks', values.tracks, quick ? 400 : 5000),
    plays: positiveInt('plays', values.plays, quick ? 500 : 20000),
    listeners: positiveInt('listeners', values.listeners, quick ? 16 : 64),
    seed: positiveInt('seed', values.seed, 1),
    fractions,
    policies,
    admit,
    budgetSeconds: positiveInt('budget', values.budget, 900),
    outDir: values.out === undefined ? DEFAULT_OUT : userPath(values.out),
    quiet: values.quiet,
  }
}
