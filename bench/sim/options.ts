import { DEFAULT_CONNECTION_RULES, DEFAULT_SCHEDULER_CONFIG, DEFAULT_SEEDING_RULES } from '../../client-sdk/core.js'
import { numberOption, parseCommandArgs } from '../../support/command.js'
import { NETWORK_FLAGS, RESULT_FLAGS, resultName } from '../src/flags.js'

/** The simulation's settings: the playback benchmark's default scenario, at scale. */
export interface SimOptions {
  seed: number
  /** Listener populations to simulate, one run each. */
  levels: number[]
  /** Share of the population online at any moment (listening sessions). */
  activity: number
  /** Virtual seconds simulated per level; the figures count from `warmupSec` on. */
  durationSec: number
  warmupSec: number
  tracks: number
  rttMs: number
  rttJitter: number
  peerRttMs: number
  originRttMs: number
  uploadKbps: number
  downKbps: number
  /** Share of WebRTC connections that come up (the rest fail: NATs, firewalls). */
  connectSuccess: number
  /** Wall-clock budget per level, seconds: past it, the level stops where it is and says so. */
  budgetSec: number
  p2p: boolean
  /** What-if variants of the SDK's seeding (defaults: the SDK's own rules). */
  seedTracks: number
  holderOffers: boolean
  seedFromCache: number
  /** What-if variants of the SDK's offer rules (core/peer-connections.ts) and of the scheduler's head. */
  offersPerAnnounce: number
  offerBurst: number
  offersPerMinute: number
  headSec: number
  outDir: string | undefined
  /** Base name of the result files (sim.json, sim.md, sim.svg). */
  name: string
  quiet: boolean
}

/** A full cache holds about 57 tracks: 64 seeds is all of it. */
const MAX_SEEDS = 64

export const SIM_DEFAULTS: SimOptions = {
  seed: 1,
  levels: [10_000, 100_000, 1_000_000],
  activity: 0.01,
  durationSec: 240,
  warmupSec: 90,
  tracks: 200_000,
  rttMs: 30,
  rttJitter: 0.2,
  peerRttMs: 50,
  originRttMs: 60,
  uploadKbps: 2000,
  downKbps: 20_000,
  connectSuccess: 0.85,
  budgetSec: 300,
  p2p: true,
  seedTracks: DEFAULT_SEEDING_RULES.swarms,
  holderOffers: false,
  seedFromCache: DEFAULT_SEEDING_RULES.fromCache,
  offersPerAnnounce: DEFAULT_CONNECTION_RULES.maxOffersPerAnnounce,
  offerBurst: DEFAULT_CONNECTION_RULES.offerBurst,
  offersPerMinute: DEFAULT_CONNECTION_RULES.offersPerMinute,
  headSec: DEFAULT_SCHEDULER_CONFIG.headSec,
  outDir: undefined,
  name: 'sim',
  quiet: false,
}

const QUICK: Partial<SimOptions> = { levels: [10_000, 100_000], durationSec: 180, warmupSec: 60 }

export const SIM_HELP = `Usage: npm run bench -- sim [--quick] [--seed=N] [--levels=10000,100000,1000000] ...
       npx tsx bench/sim/main.ts [options]

The SDK's scheduler core and the tracker's core under virtual time, with a simulated network,
for populations of listeners of which a share is online. Writes bench/results/sim.{json,md,svg}.

Options (use --name=value: the bench runner passes flags only):
  --seed=N              seed (default ${SIM_DEFAULTS.seed})
  --levels=A,B,...      listener populations (default ${SIM_DEFAULTS.levels.join(',')})
  --activity=F          share online at any moment (default ${SIM_DEFAULTS.activity})
  --duration=S          virtual seconds of the largest level (default ${SIM_DEFAULTS.durationSec}); a smaller
                        one runs its warm window longer by the ratio of the two, to count as many plays
  --warmup=S            figures count from this virtual second on (default ${SIM_DEFAULTS.warmupSec})
  --tracks=N            catalog size (default ${SIM_DEFAULTS.tracks})
  --rtt=MS --peer-rtt=MS --origin-rtt=MS --upload=KBIT --down=KBIT --rtt-jitter=F
                        the network, as in the playback benchmark (defaults ${SIM_DEFAULTS.rttMs}, ${SIM_DEFAULTS.peerRttMs}, ${SIM_DEFAULTS.originRttMs}, ${SIM_DEFAULTS.uploadKbps}, ${SIM_DEFAULTS.downKbps}, ${SIM_DEFAULTS.rttJitter})
  --connect=F           share of WebRTC connections that come up (default ${SIM_DEFAULTS.connectSuccess})
  --budget=S            wall seconds allowed per level (default ${SIM_DEFAULTS.budgetSec})
  --no-p2p              every listener plays from the edge alone
  What-if (not the SDK's current rules; the report says so):
  --seed-tracks=N       swarms seeded with nothing playing in them, played or from the cache
                        (the SDK: ${SIM_DEFAULTS.seedTracks})
  --holder-offers       a swarm with nothing left to fetch sends offers too (the SDK's offer rule
                        told it still fetches; the SDK's holders wait for seekers' offers)
  --seed-from-cache=N   a new session seeds its N most recent complete cached tracks, among its
                        ${DEFAULT_SEEDING_RULES.candidatesPerSeed}N most recent (the SDK: ${SIM_DEFAULTS.seedFromCache})
                        (both at most ${MAX_SEEDS}; past ${SIM_DEFAULTS.seedTracks} the sim's tracker takes as many more swarms
                        per socket than its 32, which the Durable Object tracker keeps in a socket's
                        2 KiB attachment: 32 with distinct peer ids take about 1.6 KB)
  --offers-per-announce=N  offers one announce may carry (the SDK: ${SIM_DEFAULTS.offersPerAnnounce})
  --offer-burst=N       the client's offer budget: offers at once (the SDK: ${SIM_DEFAULTS.offerBurst})...
  --offers-per-minute=N ...and refilled per minute (the SDK: ${SIM_DEFAULTS.offersPerMinute})
  --head-sec=S          seconds of a cold play's start asked of the edge (the SDK: ${SIM_DEFAULTS.headSec})
  --out-dir=DIR         write results here instead of bench/results/
  --name=NAME           result files NAME.json, NAME.md, NAME.svg (default sim)
  --quick               levels ${QUICK.levels!.join(',')}, ${QUICK.durationSec} s
  --quiet               no progress lines
`

export function parseSimOptions(argv: string[]): SimOptions | 'help' {
  const { values } = parseCommandArgs(argv, {
    seed: { type: 'string' },
    levels: { type: 'string' },
    activity: { type: 'string' },
    duration: { type: 'string' },
    warmup: { type: 'string' },
    tracks: { type: 'string' },
    ...NETWORK_FLAGS,
    connect: { type: 'string' },
    budget: { type: 'string' },
    'no-p2p': { type: 'boolean' },
    'seed-tracks': { type: 'string' },
    'holder-offers': { type: 'boolean' },
    'seed-from-cache': { type: 'string' },
    'offers-per-announce': { type: 'string' },
    'offer-burst': { type: 'string' },
    'offers-per-minute': { type: 'string' },
    'head-sec': { type: 'string' },
    ...RESULT_FLAGS,
  })
  if (values.help) return 'help'
  const base = { ...SIM_DEFAULTS, ...(values.quick ? QUICK : {}) }
  const levels = values.levels === undefined ? base.levels : values.levels.split(',').map((v) => Math.round(numberOption(v, 'levels', 0, 1, 1e8)))
  const durationSec = numberOption(values.duration, 'duration', base.durationSec, 10, 86_400)
  const warmupSec = numberOption(values.warmup, 'warmup', Math.min(base.warmupSec, durationSec / 2), 0, durationSec - 1)
  return {
    seed: Math.round(numberOption(values.seed, 'seed', base.seed, 0, 2 ** 31)),
    levels,
    activity: numberOption(values.activity, 'activity', base.activity, 1e-6, 1),
    durationSec,
    warmupSec,
    tracks: Math.round(numberOption(values.tracks, 'tracks', base.tracks, 1, 1e7)),
    rttMs: numberOption(values.rtt, 'rtt', base.rttMs, 0, 2000),
    rttJitter: numberOption(values['rtt-jitter'], 'rtt-jitter', base.rttJitter, 0, 0.9),
    peerRttMs: numberOption(values['peer-rtt'], 'peer-rtt', base.peerRttMs, 0, 2000),
    originRttMs: numberOption(values['origin-rtt'], 'origin-rtt', base.originRttMs, 0, 2000),
    uploadKbps: numberOption(values.upload, 'upload', base.uploadKbps, 1, 1e7),
    downKbps: numberOption(values.down, 'down', base.downKbps, 1, 1e8),
    connectSuccess: numberOption(values.connect, 'connect', base.connectSuccess, 0, 1),
    budgetSec: numberOption(values.budget, 'budget', base.budgetSec, 1, 86_400),
    p2p: values['no-p2p'] !== true,
    seedTracks: Math.round(numberOption(values['seed-tracks'], 'seed-tracks', base.seedTracks, 0, MAX_SEEDS)),
    holderOffers: values['holder-offers'] === true,
    seedFromCache: Math.round(numberOption(values['seed-from-cache'], 'seed-from-cache', base.seedFromCache, 0, MAX_SEEDS)),
    offersPerAnnounce: Math.round(numberOption(values['offers-per-announce'], 'offers-per-announce', base.offersPerAnnounce, 1, 10)),
    offerBurst: numberOption(values['offer-burst'], 'offer-burst', base.offerBurst, 1, 100),
    offersPerMinute: numberOption(values['offers-per-minute'], 'offers-per-minute', base.offersPerMinute, 0.01, 100),
    headSec: numberOption(values['head-sec'], 'head-sec', base.headSec, 1, 60),
    outDir: values['out-dir'],
    name: resultName(values.name, base.name),
    quiet: values.quiet === true,
  }
}
