import { intOption, parseCommandArgs } from '../../support/command.js'
import { RESULT_FLAGS, resultName } from '../src/flags.js'

/** What a first-run measurement can be told. */
export interface FirstRunOptions {
  /** Demo tracks to create (the catalog's 12 by default). */
  count: number
  /** Every demo track this long, seconds; undefined: each track's own 2-4 minutes. */
  durationSec: number | undefined
  /** Give up on the run after this many seconds. */
  timeoutSec: number
  /** How often the edge's track list is polled, ms. */
  pollMs: number
  /** Keep the data directory (its path is printed) rather than remove it. */
  keep: boolean
  outDir: string | undefined
  /** Base name of the result files. */
  name: string
  quiet: boolean
}

export const FIRST_RUN_DEFAULTS: FirstRunOptions = {
  count: 12,
  durationSec: undefined,
  timeoutSec: 600,
  pollMs: 500,
  keep: false,
  outDir: undefined,
  name: 'first-run',
  quiet: false,
}

/** The targets of the "first run" issue: a player within 30 s with a track playable, the catalog within 120 s. */
export const TARGETS = { readyMs: 30_000, firstAudioMs: 30_000, catalogMs: 120_000 } as const

const QUICK: Partial<FirstRunOptions> = { count: 3, durationSec: 30 }

export const FIRST_RUN_HELP = `Usage: npm run bench -- first-run [--quick] [--count=N] [--duration=S] ...
       npx tsx bench/first-run/main.ts [options]

What a new user waits for: \`chorus start --json\` on a fresh temporary data directory and free
ports, timed from the spawn to the ready line, to the first track in the edge's list
(GET /v1/tracks), to its first audio through the Node SDK, to the whole catalog in the edge's
list; with the CPU seconds of the whole process tree (from /proc) and the load average. Writes
bench/results/first-run.{json,md}. Stops everything at the end, as Ctrl-C would.

Options (use --name=value: the bench runner passes flags only):
  --count=N         demo tracks (default ${FIRST_RUN_DEFAULTS.count}: the whole catalog)
  --duration=S      every demo track S seconds long (default: their own 2-4 minutes)
  --timeout=S       give up after S seconds (default ${FIRST_RUN_DEFAULTS.timeoutSec})
  --poll=MS         how often the edge's track list is read (default ${FIRST_RUN_DEFAULTS.pollMs})
  --keep            keep the data directory
  --out-dir=DIR     write results here instead of bench/results/
  --name=NAME       result files NAME.json and NAME.md (default ${FIRST_RUN_DEFAULTS.name})
  --quick           ${QUICK.count} tracks of ${QUICK.durationSec} s (a look at the machinery, not the figures)
  --quiet           no progress lines
`

export function parseFirstRunOptions(argv: string[]): FirstRunOptions | 'help' {
  const { values } = parseCommandArgs(argv, {
    count: { type: 'string' },
    duration: { type: 'string' },
    timeout: { type: 'string' },
    poll: { type: 'string' },
    keep: { type: 'boolean' },
    ...RESULT_FLAGS,
  })
  if (values.help) return 'help'
  const base = { ...FIRST_RUN_DEFAULTS, ...(values.quick ? QUICK : {}) }
  const name = resultName(values.name, base.name)
  return {
    count: intOption(values.count, 'count', base.count, 1, 12),
    durationSec: values.duration === undefined ? base.durationSec : intOption(values.duration, 'duration', 0, 1, 3600),
    timeoutSec: intOption(values.timeout, 'timeout', base.timeoutSec, 10, 86_400),
    pollMs: intOption(values.poll, 'poll', base.pollMs, 20, 10_000),
    keep: values.keep === true,
    outDir: values['out-dir'],
    name,
    quiet: values.quiet === true,
  }
}

/** The `chorus start` arguments of a run. */
export function startArgs(dataDir: string, o: Pick<FirstRunOptions, 'count' | 'durationSec'>): string[] {
  return [
    'start',
    '--data',
    dataDir,
    '--json',
    '--origin-port',
    '0',
    '--tracker-port',
    '0',
    '--edge-port',
    '0',
    ...(o.count !== 12 ? ['--demo-count', String(o.count)] : []),
    ...(o.durationSec !== undefined ? ['--demo-duration', String(o.durationSec)] : []),
  ]
}
