import { numberOption, parseCommandArgs } from '../../support/command.js'
import { NETWORK_FLAGS } from '../src/flags.js'

/** Everything a playback run can be told, with the default scenario's values. */
export interface PlaybackOptions {
  seed: number
  listeners: number
  /** Wall seconds each phase runs. */
  durationSec: number
  /** Audio plays this many times faster than real time (the virtual speaker). */
  speed: number
  rttMs: number
  /** Each listener's round trips are the mean times (1 +- this), drawn once. */
  rttJitter: number
  peerRttMs: number
  originRttMs: number
  /** Upload cap per listener in real time, kbit/s (scaled by the speed in the run). */
  uploadKbps: number
  /** Download from the edge, kbit/s (not scaled). */
  downKbps: number
  loss: number
  tracks: number
  /** Durations of the source recordings, seconds (each track id is one of them). */
  sourceSec: number[]
  /** Listeners per worker process (each RTCPeerConnection holds ~50 file descriptors; a process may open 20,000). */
  perProcess: number
  /** Run the P2P-off phase too. */
  cdn: boolean
  /** The edge at a phase's start: every track's head asked once (a location in use), or empty. */
  edgeStart: 'heads' | 'cold'
  outDir: string | undefined
  quiet: boolean
}

export const DEFAULTS: PlaybackOptions = {
  seed: 1,
  listeners: 30,
  durationSec: 120,
  speed: 4,
  rttMs: 30,
  rttJitter: 0.2,
  peerRttMs: 50,
  originRttMs: 60,
  uploadKbps: 2000,
  downKbps: 20_000,
  loss: 0,
  tracks: 60,
  sourceSec: [50, 65, 80, 95],
  perProcess: 3,
  cdn: true,
  edgeStart: 'heads',
  outDir: undefined,
  quiet: false,
}

const QUICK: Partial<PlaybackOptions> = { listeners: 12, durationSec: 50, tracks: 30 }

export const HELP = `Usage: npm run bench -- playback [--quick] [--seed=N] [--listeners=N] ...
       npx tsx bench/playback/main.ts [options]

Real SDK clients (real WebRTC, real workerd edge, real tracker and origin) play seeded listening
sessions on an emulated network, once peer-assisted and once with P2P off. Writes
bench/results/playback.{json,md} and playback-ttfa.svg, playback-bytes.svg.

Options (use --name=value: the bench runner passes flags only):
  --seed=N            scenario seed (default ${DEFAULTS.seed})
  --listeners=N       listeners (default ${DEFAULTS.listeners})
  --duration=S        wall seconds per phase (default ${DEFAULTS.durationSec})
  --speed=X           audio plays X times faster than real time (default ${DEFAULTS.speed})
  --rtt=MS            round trip to the edge and the tracker (default ${DEFAULTS.rttMs})
  --rtt-jitter=F      each listener's round trips are the mean times 1 +- F (default ${DEFAULTS.rttJitter})
  --peer-rtt=MS       round trip between two listeners (default ${DEFAULTS.peerRttMs})
  --origin-rtt=MS     round trip from the edge to the origin (default ${DEFAULTS.originRttMs})
  --upload=KBIT       upload cap per listener, kbit/s of real time (default ${DEFAULTS.uploadKbps})
  --down=KBIT         download from the edge, kbit/s (default ${DEFAULTS.downKbps})
  --loss=F            packet loss on the edge path, 0..1 (default ${DEFAULTS.loss})
  --tracks=N          catalog size (default ${DEFAULTS.tracks})
  --per-process=N     listeners per worker process (default ${DEFAULTS.perProcess})
  --no-cdn            skip the P2P-off phase
  --cold-edge         start each phase on an empty edge (default: every track's head asked of the
                      edge once before the listeners come, as in a location in use)
  --out-dir=DIR       write results here instead of bench/results/
  --quick             ${QUICK.listeners} listeners, ${QUICK.durationSec} s, ${QUICK.tracks} tracks
  --quiet             no progress lines
`

export function parsePlaybackOptions(argv: string[]): PlaybackOptions | 'help' {
  const { values } = parseCommandArgs(argv, {
    seed: { type: 'string' },
    listeners: { type: 'string' },
    duration: { type: 'string' },
    speed: { type: 'string' },
    ...NETWORK_FLAGS,
    loss: { type: 'string' },
    tracks: { type: 'string' },
    'source-sec': { type: 'string' },
    'per-process': { type: 'string' },
    'no-cdn': { type: 'boolean' },
    'cold-edge': { type: 'boolean' },
    'out-dir': { type: 'string' },
    quick: { type: 'boolean' },
    quiet: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  })
  if (values.help) return 'help'
  const base = { ...DEFAULTS, ...(values.quick ? QUICK : {}) }
  const sourceSec = values['source-sec'] === undefined ? base.sourceSec : values['source-sec'].split(',').map((s) => numberOption(s, 'source-sec', 0, 5, 600))
  return {
    seed: Math.round(numberOption(values.seed, 'seed', base.seed, 0, 2 ** 31)),
    listeners: Math.round(numberOption(values.listeners, 'listeners', base.listeners, 1, 200)),
    durationSec: numberOption(values.duration, 'duration', base.durationSec, 5, 3600),
    speed: numberOption(values.speed, 'speed', base.speed, 0.25, 32),
    rttMs: numberOption(values.rtt, 'rtt', base.rttMs, 0, 2000),
    rttJitter: numberOption(values['rtt-jitter'], 'rtt-jitter', base.rttJitter, 0, 0.9),
    peerRttMs: numberOption(values['peer-rtt'], 'peer-rtt', base.peerRttMs, 0, 2000),
    originRttMs: numberOption(values['origin-rtt'], 'origin-rtt', base.originRttMs, 0, 2000),
    uploadKbps: numberOption(values.upload, 'upload', base.uploadKbps, 1, 1e7),
    downKbps: numberOption(values.down, 'down', base.downKbps, 1, 1e8),
    loss: numberOption(values.loss, 'loss', base.loss, 0, 0.5),
    tracks: Math.round(numberOption(values.tracks, 'tracks', base.tracks, 1, 5000)),
    sourceSec,
    perProcess: Math.round(numberOption(values['per-process'], 'per-process', base.perProcess, 1, 200)),
    cdn: values['no-cdn'] !== true,
    edgeStart: values['cold-edge'] === true ? 'cold' : 'heads',
    outDir: values['out-dir'],
    quiet: values.quiet === true,
  }
}
