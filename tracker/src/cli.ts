// `chorus tracker`: the WebSocket tracker on Node, in one process or sharded over several.

import { type Command, DEFAULT_PORTS, UsageError, announceReady, intOption, parseCommandArgs, untilSignal } from '../../support/command.js'
import { readFileSync } from 'node:fs'
import { createShardedTracker } from './cluster.js'
import { envName, trackerOptionsFromEnv } from './config.js'
import type { TrackerOptions } from './core/options.js'
import { DEFAULT_TRACKER_OPTIONS, resolveTrackerOptions } from './core/options.js'
import { OPERATOR_TOKEN_ENV, checkOperatorToken } from './operator.js'
import { createTrackerServer } from './server.js'

/** Flag name, option, unit shown in help, and how a flag value becomes the option's value. */
const LIMIT_FLAGS: Array<{ flag: string; option: keyof TrackerOptions; help: string; scale?: number; min?: number }> = [
  { flag: 'max-message-size', option: 'maxMessageChars', help: 'largest message, in characters' },
  { flag: 'max-swarms-per-socket', option: 'maxSwarmsPerSocket', help: 'swarms one socket may be in at once' },
  { flag: 'max-announces-per-second', option: 'maxAnnouncesPerSecond', help: 'messages per socket per second (every message counts)' },
  { flag: 'max-connections', option: 'maxConnections', help: 'open sockets (per shard with --shards)' },
  { flag: 'idle-timeout', option: 'idleTimeoutMs', help: 'seconds of silence before a socket is closed; pings at half', scale: 1000 },
  { flag: 'swarm-holders', option: 'swarmHolders', help: 'holders each swarm remembers' },
  { flag: 'swarm-seekers', option: 'swarmSeekers', help: 'other peers each swarm remembers' },
  { flag: 'max-peers-per-announce', option: 'maxPeersPerAnnounce', help: 'peers one announce reaches at most' },
  { flag: 'announce-interval', option: 'announceIntervalSec', help: 'seconds clients wait between announces' },
  { flag: 'max-connections-per-address', option: 'maxConnectionsPerAddress', help: 'open sockets from one client address (IPv6: one /64)' },
  { flag: 'first-message-timeout', option: 'firstMessageTimeoutMs', help: 'seconds a new socket has to send a valid request', scale: 1000 },
  { flag: 'max-offers-per-second', option: 'maxOffersPerSecond', help: 'offers one socket may send per second' },
  { flag: 'max-pending-offers', option: 'maxPendingOffersPerSocket', help: 'unanswered offers remembered per socket (answers need one)' },
  { flag: 'max-listed-per-address', option: 'maxListedPerAddress', help: "slots one address may hold in each of a swarm's lists" },
  { flag: 'min-swarm-size', option: 'minSwarmSize', help: 'peers a swarm needs before offers are relayed in it' },
  { flag: 'ban-strikes', option: 'banStrikes', help: 'sockets closed for abuse before a ban (0: no bans)', min: 0 },
  { flag: 'ban-duration', option: 'banMs', help: 'seconds a ban lasts', scale: 1000 },
  { flag: 'max-peers-per-hour', option: 'maxPeersLearnedPerHour', help: 'distinct peers one listener may meet per rolling hour (0: no limit)', min: 0 },
]

/** A flag padded to the help's column, or on a line of its own when it is longer. */
function column(flag: string): string {
  return flag.length < 29 ? flag.padEnd(29) : `${flag}\n${' '.repeat(33)}`
}

function defaultShown(option: keyof TrackerOptions, scale = 1): string {
  return String((DEFAULT_TRACKER_OPTIONS[option] as number) / scale)
}

const tracker: Command = {
  summary: 'run the WebSocket tracker (WebTorrent protocol, Spotify swarm rules)',
  help: `Usage: chorus tracker [options]

Runs the WebSocket tracker: WebTorrent's protocol (announce with offers, answer relay, scrape) with
Spotify's swarm rules. Clients connect to ws://HOST:PORT/announce, or ws://HOST:PORT/swarm/<info_hash>
(required with --shards above 1). /healthz and /metrics are on the same port.

Options:
  --host HOST                    interface to listen on (default: 127.0.0.1)
  --port PORT                    port, 0 for any free one (default: ${DEFAULT_PORTS.tracker})
  --json                         print {"ready":true,"url":...} once listening
  --auth-key KEY                 require session tokens (the origin's, for the tracker, scope
                                 "announce") in ?token= or the first message's "token", checked
                                 with the origin's public key KEY (env: CHORUS_ORIGIN_PUBLIC_KEY;
                                 chorus origin --print-public-key)
  --no-scrape                    answer scrape with a failure reason
  --shards N                     run N shard processes split by info_hash (default: 1, this process)
  --network-header NAME          request header naming the client's network, from a proxy you trust
  --address-header NAME          request header naming the client's IP address, from a proxy you trust
                                 (without it the per-address limits count the TCP peer)
  --limit-loopback               apply the per-address limits to loopback clients too (default: exempt)
  --max-buffered BYTES           close a socket with more unsent replies than this (default: 1048576)
  --operator-token-file PATH     /metrics (and the figures of /healthz) need "Authorization: Bearer T",
                                 T read from PATH (env: ${OPERATOR_TOKEN_ENV}=T); never pass T itself
                                 as an argument: other users of the machine can read it from ps
${LIMIT_FLAGS.map((f) => `  --${column(`${f.flag} N`)}${f.help} (default: ${defaultShown(f.option, f.scale)})`).join('\n')}

Every limit can also come from the environment as ${envName('maxConnections')}=N and so on (the same
variables as the Durable Object's wrangler.toml vars; ${envName('idleTimeoutMs')} in ms); flags win.
A socket over a limit gets a "failure reason" and is closed; other sockets are not affected.
`,
  async run(argv) {
    const { values } = parseCommandArgs(argv, {
      host: { type: 'string' },
      port: { type: 'string' },
      json: { type: 'boolean' },
      'auth-key': { type: 'string' },
      'no-scrape': { type: 'boolean' },
      shards: { type: 'string' },
      'network-header': { type: 'string' },
      'address-header': { type: 'string' },
      'limit-loopback': { type: 'boolean' },
      'max-buffered': { type: 'string' },
      'operator-token-file': { type: 'string' },
      ...Object.fromEntries(LIMIT_FLAGS.map((f) => [f.flag, { type: 'string' as const }])),
    })
    const flags = values as Record<string, string | boolean | undefined>
    let options: Partial<TrackerOptions>
    try {
      options = trackerOptionsFromEnv(process.env)
    } catch (error) {
      throw new UsageError((error as Error).message)
    }
    for (const f of LIMIT_FLAGS) {
      const raw = flags[f.flag] as string | undefined
      if (raw === undefined) continue
      ;(options as Record<string, number>)[f.option] = intOption(raw, f.flag, 0, f.min ?? 1) * (f.scale ?? 1)
    }
    if (flags['no-scrape']) options.scrape = false
    if (flags['limit-loopback']) options.exemptLoopback = false
    const authKey = (flags['auth-key'] as string | undefined) ?? (process.env.CHORUS_ORIGIN_PUBLIC_KEY || undefined)
    try {
      resolveTrackerOptions(options)
    } catch (error) {
      throw new UsageError((error as Error).message)
    }
    const host = (flags.host as string | undefined) ?? '127.0.0.1'
    const port = intOption(flags.port as string | undefined, 'port', DEFAULT_PORTS.tracker, 0, 65535)
    const shards = intOption(flags.shards as string | undefined, 'shards', 1, 1, 256)
    const networkHeader = flags['network-header'] as string | undefined
    const addressHeader = flags['address-header'] as string | undefined
    const maxBuffered = flags['max-buffered'] === undefined ? undefined : intOption(flags['max-buffered'] as string, 'max-buffered', 0, 1)
    let operatorToken = process.env[OPERATOR_TOKEN_ENV] || undefined
    const tokenFile = flags['operator-token-file'] as string | undefined
    if (tokenFile !== undefined) {
      try {
        operatorToken = readFileSync(tokenFile, 'utf8').trim()
      } catch (error) {
        throw new UsageError(`--operator-token-file: ${(error as Error).message}`)
      }
    }
    try {
      checkOperatorToken(operatorToken, tokenFile === undefined ? OPERATOR_TOKEN_ENV : '--operator-token-file')
    } catch (error) {
      throw new UsageError((error as Error).message)
    }
    const common = {
      ...(operatorToken !== undefined && { operatorToken }),
      ...options,
      host,
      port,
      ...(authKey !== undefined && { authKey }),
      ...(networkHeader !== undefined && { networkHeader }),
      ...(addressHeader !== undefined && { addressHeader }),
      ...(maxBuffered !== undefined && { maxBufferedBytes: maxBuffered }),
    }
    const server = shards > 1 ? createShardedTracker({ ...common, shards }) : createTrackerServer(common)
    const { url } = await server.listen()
    announceReady(flags.json === true, 'chorus tracker', { url })
    if (flags.json !== true) {
      process.stderr.write(`  WebSocket: ${url.replace(/^http/, 'ws')}${shards > 1 ? '/swarm/<info_hash>' : '/announce'}${authKey ? ' (auth on)' : ''}\n`)
      process.stderr.write(`  /metrics: ${operatorToken !== undefined ? 'operator token required' : 'open (no operator token set)'}\n`)
    }
    await untilSignal()
    await server.close()
    return 0
  },
}

export const commands: Record<string, Command> = { tracker }
