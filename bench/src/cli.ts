import type { Command } from '../../support/command.js'

/** Each benchmark is a module exporting run(argv); loaded only when asked for, so one cannot slow another's start. */
const BENCHES: Record<string, { summary: string; load: () => Promise<{ run(argv: string[]): Promise<void> }> }> = {
  origin: { summary: 'encrypt+hash vs openssl; origin chunk serving vs bare node:http', load: () => import('../origin/index.js') },
  edge: { summary: 'cached-chunk req/s and p99: edge vs trivial Worker, origin, nginx; policy miss ratios', load: () => import('../edge/index.js') },
  tracker: { summary: 'memory per peer, announces/s with and without offers, p99: vs bittorrent-tracker and bare ws', load: () => import('../tracker/index.js') },
  'cache-policy': { summary: 'miss ratio of the edge memory-tier policies vs OPT (web07 trace, Spotify-shaped chunks)', load: () => import('../cache-policy/index.js') },
  playback: { summary: 'time to first audio, stalls and offload: real SDK listeners on an emulated network, P2P on and off', load: () => import('../playback/index.js') },
  sim: { summary: "the SDK's scheduler and the tracker's core under virtual time, 10,000 to 1,000,000 listeners", load: () => import('../sim/index.js') },
  'first-run': { summary: '`chorus start` on an empty data directory: time to the player, to first audio, to the whole demo catalog; CPU', load: () => import('../first-run/index.js') },
  'edge-shield': { summary: 'origin requests per cold chunk with N lower edges, with and without a shield tier', load: () => import('../edge/shield.js') },
  ingest: { summary: 'ingest throughput, audio seconds per CPU second: the ffmpeg AAC encoder beside the pure-JS MP3 one, per quality', load: () => import('../ingest/index.js') },
}
const ALIASES: Record<string, string> = {}

const bench: Command = {
  summary: 'run benchmarks; figures go to bench/results/',
  get help() {
    const names = Object.entries(BENCHES).map(([n, b]) => `  ${n.padEnd(14)} ${b.summary}`)
    return `Usage: chorus bench <name>... [--quick]
       npm run bench -- <name>... [--quick]

Benchmarks print their figures and write JSON and Markdown to bench/results/.
With no name, every benchmark runs in turn.

Benchmarks:
${names.join('\n')}

Options:
  --quick         shorter runs (noisier figures), for a first look
  -h, --help      this help
`
  },
  async run(argv) {
    // Benchmark names come first; everything after them (`--seed 7`, `--quick`) goes to each one.
    let i = 0
    while (i < argv.length && !argv[i]!.startsWith('-')) i++
    const names = argv.slice(0, i).map((n) => ALIASES[n] ?? n)
    const flags = argv.slice(i)
    const chosen = names.length ? names : Object.keys(BENCHES)
    for (const name of chosen) {
      if (!BENCHES[name]) {
        process.stderr.write(`chorus bench: no benchmark '${name}' (have: ${Object.keys(BENCHES).join(', ')})\n`)
        return 2
      }
    }
    for (const name of chosen) {
      process.stderr.write(`== bench ${name}\n`)
      await (await BENCHES[name]!.load()).run(flags)
    }
    return 0
  },
}

export const commands: Record<string, Command> = { bench }
