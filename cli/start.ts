import { join } from 'node:path'
import { parseIceServers } from '../client-sdk/core.js'
import { DEMO_API_KEY } from '../origin/index.js'
import { DEMO_TRACKS } from '../origin/index.js'
import { type CatalogEvent, StackStopped, catalogJson, catalogText, startCloudflareStack, startStack } from '../stack/index.js'
import { type Command, DEFAULT_PORTS, UsageError, defaultDataDir, intOption, parseCommandArgs, untilSignal } from '../support/command.js'

/** Where the tests found it first; the stack module owns it. */

export const start: Command = {
  summary: 'run the whole stack on localhost with the demo catalog',
  help: `Usage: chorus start [options]       (npm start)

Starts every part of Chorus on localhost, each as its own process, and prints one line of
health for each once all answer. When the catalog is empty it creates the demo catalog in the
background meanwhile: the servers answer within seconds and each track joins the catalog as it
is encoded (one line each, then one when the catalog is complete). Ctrl-C or SIGTERM stops every
process it started, and an encode under way; a track is published whole or not at all, and the
next start goes on with the tracks still missing.

With --cloudflare every part runs in workerd, the Workers runtime, through \`wrangler dev\`, and
no Node server: the origin Worker serves the masters from a local R2 bucket and the keys from its
key vault (a Durable Object), the tracker is its Durable Object Worker, the edge Worker fetches
from the origin Worker. The demo catalog goes into that bucket. Everything is kept in
DIR/cloudflare (the Workers' secrets in 0600 env files, wrangler's local state); the signing
key is DIR/keys, as without the flag. See "Deploy on Cloudflare" in README.md.

Options:
  --data DIR            catalog directory (default: $CHORUS_DATA or ./data)
  --cloudflare          the whole stack in workerd: origin Worker over R2, tracker Durable Object, edge
  --host HOST           address every part listens on (default: 127.0.0.1)
  --origin-port PORT    (default: ${DEFAULT_PORTS.origin}; env CHORUS_ORIGIN_PORT)
  --tracker-port PORT   (default: ${DEFAULT_PORTS.tracker}; env CHORUS_TRACKER_PORT)
  --edge-port PORT      (default: ${DEFAULT_PORTS.edge}; env CHORUS_EDGE_PORT): the player's address
  --no-p2p              the web player plays from the edge alone (no tracker, no peers)
  --ice-servers JSON    STUN/TURN servers for the web player (env CHORUS_ICE_SERVERS), e.g.
                        '[{"urls":"turn:turn.example:3478","username":"u","credential":"c"}]';
                        a TURN server makes the player's relay-only privacy mode available
  env CHORUS_OPERATOR_TOKEN  the operator token for metrics, edge stats and purge (default: a
                        new one per run, printed with the operator page's address)
  --demo-duration S     make the demo tracks S seconds long (quick start for tests)
  --demo-count N        only the first N demo tracks (default: all ${DEMO_TRACKS.length})
  env CHORUS_API_KEY    the API key the web player uses (default: the demo key)
  --json                print one JSON line with every part's URL once all answer, then one
                        line per demo track ({"catalog":"track",...}) and a last one
                        ({"catalog":"complete","tracks":N,"ms":...})
  -h, --help            this help
`,
  async run(argv) {
    const startedAt = performance.now()
    const elapsed = () => performance.now() - startedAt
    const { values } = parseCommandArgs(argv, {
      data: { type: 'string' },
      host: { type: 'string' },
      'origin-port': { type: 'string' },
      'tracker-port': { type: 'string' },
      'edge-port': { type: 'string' },
      'no-p2p': { type: 'boolean' },
      cloudflare: { type: 'boolean' },
      'ice-servers': { type: 'string' },
      'demo-duration': { type: 'string' },
      'demo-count': { type: 'string' },
      json: { type: 'boolean' },
    })
    const env = process.env
    const dataDir = values.data ?? defaultDataDir(env)
    const iceInput = values['ice-servers'] ?? env.CHORUS_ICE_SERVERS
    const iceServers = iceInput === undefined ? undefined : parseIceServers(iceInput)
    if (iceServers instanceof Error) throw new UsageError(`--ice-servers: ${iceServers.message}`)
    const demoDuration = values['demo-duration'] === undefined ? undefined : intOption(values['demo-duration'], 'demo-duration', 0, 1, 3600)
    const demoCount = intOption(values['demo-count'], 'demo-count', DEMO_TRACKS.length, 1, DEMO_TRACKS.length)
    const ports = {
      origin: intOption(values['origin-port'] ?? env.CHORUS_ORIGIN_PORT, 'origin-port', DEFAULT_PORTS.origin, 0, 65535),
      tracker: intOption(values['tracker-port'] ?? env.CHORUS_TRACKER_PORT, 'tracker-port', DEFAULT_PORTS.tracker, 0, 65535),
      edge: intOption(values['edge-port'] ?? env.CHORUS_EDGE_PORT, 'edge-port', DEFAULT_PORTS.edge, 0, 65535),
    }
    const json = values.json === true
    const say = (line: string) => process.stderr.write(`${line}\n`)

    // Ctrl-C from here on stops the servers and the catalog build alike (a second one is ignored:
    // the stop is bounded, each part killed after PART_STOP_MS, and cutting it short would leave
    // children behind).
    const stop = new AbortController()
    const signalled = untilSignal().then((signal) => {
      stop.abort(new DOMException(`stopped by ${signal}`, 'AbortError'))
      return `${signal}`
    })

    // Catalog lines wait for the ready line, so that it comes first.
    let readyPrinted = false
    const held: CatalogEvent[] = []
    const emit = (e: CatalogEvent) => {
      if (!readyPrinted) return void held.push(e)
      if (json) process.stdout.write(`${JSON.stringify(catalogJson(e))}\n`)
      say(catalogText(e))
    }

    const cloudflare = values.cloudflare === true
    let stack: Awaited<ReturnType<typeof startStack>>
    try {
      stack = await (cloudflare ? startCloudflareStack : startStack)({
        dataDir,
        host: values.host ?? '127.0.0.1',
        ports,
        p2p: values['no-p2p'] !== true,
        ...(iceServers && { iceServers }),
        apiKey: env.CHORUS_API_KEY ?? DEMO_API_KEY,
        demo: { count: demoCount, ...(demoDuration !== undefined && { durationSec: demoDuration }) },
        env,
        signal: stop.signal,
        elapsed,
        onCatalog: emit,
        onNotice: say,
      })
    } catch (err) {
      if (err instanceof StackStopped) return 0
      throw err
    }

    const { urls, catalog } = stack
    if (json) {
      process.stdout.write(
        `${JSON.stringify({ ready: true, url: urls.edge, player: urls.player, operator: urls.operator, operatorToken: stack.operatorToken, origin: urls.origin, edge: urls.edge, tracker: urls.tracker, catalog: catalog.complete() ? 'complete' : 'building', tracks: catalog.tracks(), ms: Math.round(elapsed()) })}\n`,
      )
    }
    say(`player   ${urls.player}`)
    say(`operator ${urls.operator}`)
    for (const p of stack.parts) say(`${p.name.padEnd(8)} ${p.url}  ${p.health}`)
    say(`data: ${join(dataDir)}${cloudflare ? ` (masters in local R2, keys in the key vault: ${join(dataDir, 'cloudflare')})` : ''}; Ctrl-C stops everything`)
    if (!catalog.complete()) say(`demo catalog: ${catalog.tracks()} of ${demoCount} tracks ready; the rest join the catalog as they are encoded`)
    readyPrinted = true
    for (const e of held.splice(0)) emit(e)

    const why = await Promise.race([signalled, stack.exited])
    stop.abort(new DOMException(why, 'AbortError'))
    await stack.stop()
    if (why.includes('exited')) {
      say(`chorus start: ${why}; stopped the rest`)
      return 1
    }
    return 0
  },
}
