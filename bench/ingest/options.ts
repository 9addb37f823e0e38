import { DEMO_TRACKS } from '../../origin/index.js'
import { UsageError, intOption, parseCommandArgs } from '../../support/command.js'
import { RESULT_FLAGS, resultName } from '../src/flags.js'

export interface IngestBenchOptions {
  /** The demo track whose seed is synthesized (the same PCM feeds every encoder). */
  track: string
  /** Seconds of audio to synthesize and ingest. */
  durationSec: number
  /** Alternating rounds (new, old, new, old...); each figure is the median of its rounds. */
  rounds: number
  /** Measure the pure-JS MP3 encoder too (the slow part of a run). */
  mp3: boolean
  bitrates: number[]
  outDir: string | undefined
  name: string
  quiet: boolean
}

export const INGEST_DEFAULTS: IngestBenchOptions = {
  track: 'demo-01',
  durationSec: 60,
  rounds: 1,
  mp3: true,
  bitrates: [96, 160, 320],
  outDir: undefined,
  name: 'ingest',
  quiet: false,
}

const QUICK: Partial<IngestBenchOptions> = { durationSec: 15 }

export const INGEST_HELP = `Usage: npm run bench -- ingest [--quick] [--duration=S] [--rounds=N] ...
       npx tsx bench/ingest/main.ts [options]

Ingest throughput in seconds of audio per CPU second: the origin's ingestPcm() as it is (AAC in
fragmented MP4 through ffmpeg when ffmpeg is found) beside the pure-JS MP3 encoder (lamejs,
encodeMp3, ingestPcm with codec 'mp3'), on the same synthesized PCM, in the same run: each
quality alone (one encoder at a time), then all qualities at once as an ingest runs them. CPU is
this process (all its threads: lamejs workers) plus the children it reaped (ffmpeg), from /proc.
Writes bench/results/ingest.{json,md}.

Options (use --name=value: the bench runner passes flags only):
  --track=ID        demo track whose seed is synthesized (default ${INGEST_DEFAULTS.track})
  --duration=S      seconds of audio (default ${INGEST_DEFAULTS.durationSec}; 0 = the track's own length)
  --rounds=N        alternating rounds, medians reported (default ${INGEST_DEFAULTS.rounds})
  --bitrates=LIST   qualities, kbit/s (default ${INGEST_DEFAULTS.bitrates.join(',')})
  --no-mp3          the new path only
  --out-dir=DIR     write results here instead of bench/results/
  --name=NAME       result files NAME.json and NAME.md (default ${INGEST_DEFAULTS.name})
  --quick           ${QUICK.durationSec} s of audio
  --quiet           no progress lines
`

export function parseIngestOptions(argv: string[]): IngestBenchOptions | 'help' {
  const { values } = parseCommandArgs(argv, {
    track: { type: 'string' },
    duration: { type: 'string' },
    rounds: { type: 'string' },
    bitrates: { type: 'string' },
    'no-mp3': { type: 'boolean' },
    ...RESULT_FLAGS,
  })
  if (values.help) return 'help'
  const base = { ...INGEST_DEFAULTS, ...(values.quick ? QUICK : {}) }
  const track = values.track ?? base.track
  const spec = DEMO_TRACKS.find((t) => t.id === track)
  if (!spec) throw new UsageError(`--track must be one of ${DEMO_TRACKS.map((t) => t.id).join(', ')}, not '${track}'`)
  const duration = intOption(values.duration, 'duration', base.durationSec, 0, 3600)
  const bitrates = values.bitrates === undefined ? base.bitrates : values.bitrates.split(',').map((b) => intOption(b.trim(), 'bitrates', 0, 8, 320))
  const name = resultName(values.name, base.name)
  return {
    track,
    durationSec: duration === 0 ? spec.durationSec : duration,
    rounds: intOption(values.rounds, 'rounds', base.rounds, 1, 20),
    mp3: values['no-mp3'] !== true,
    bitrates: [...new Set(bitrates)].sort((a, b) => a - b),
    outDir: values['out-dir'],
    name,
    quiet: values.quiet === true,
  }
}
