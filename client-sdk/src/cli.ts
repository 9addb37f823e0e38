import { createWriteStream } from 'node:fs'
import { Writable } from 'node:stream'
import { type Command, DEFAULT_PORTS, UsageError, intOption, parseCommandArgs } from '../../cli/command.js'
import { isChorusError } from './errors.js'

const play: Command = {
  summary: 'play a track from the command line, peer-assisted; write the audio to a file or stdout',
  help: `Usage: chorus play <trackId> [options]

Plays one track through the SDK: the head from the edge, the rest from peers where they have it,
every chunk verified and decrypted. Writes the decrypted MP3 to --out (or stdout when piped),
serves its cache to other listeners while it plays, then prints its stats.

Options:
  --edge URL        edge to play from (default: http://127.0.0.1:${DEFAULT_PORTS.edge})
  --tracker URL     tracker (default: ws://127.0.0.1:${DEFAULT_PORTS.tracker}/announce)
  --api-key KEY     API key for a session (default: $CHORUS_API_KEY or chorus-demo-key)
  --public-key B64  the origin's manifest key to pin (default: asked from the edge)
  --cache DIR       local cache directory (default: ~/.cache/chorus)
  --quality Q       auto, 96, 160 or 320 (default: auto)
  --from S          start at S seconds
  --speed X         play X times faster than real time; 0 = as fast as data comes (default: 1)
  --linger S        keep serving peers S seconds after the track ends (default: 0)
  --no-p2p          play from the edge and the cache only
  --download-only   take from peers, serve nobody
  --out FILE        write the audio here ('-' for stdout)
  --json            print the stats as one JSON object, the last line of stdout
                    (of stderr when the audio goes to stdout)
  -h, --help        this help
`,
  async run(argv) {
    const { values, positionals } = parseCommandArgs(
      argv,
      {
        edge: { type: 'string' },
        tracker: { type: 'string' },
        'api-key': { type: 'string' },
        'public-key': { type: 'string' },
        cache: { type: 'string' },
        quality: { type: 'string' },
        from: { type: 'string' },
        speed: { type: 'string' },
        linger: { type: 'string' },
        'no-p2p': { type: 'boolean' },
        'download-only': { type: 'boolean' },
        out: { type: 'string' },
        json: { type: 'boolean' },
      },
      true,
    )
    const [trackId, ...extra] = positionals
    if (!trackId || extra.length) throw new UsageError('name one track id')
    const quality = values.quality === undefined || values.quality === 'auto' ? 'auto' : intOption(values.quality, 'quality', 160, 8, 640)
    const speed = values.speed === undefined ? 1 : Number(values.speed)
    if (!Number.isFinite(speed) || speed < 0) throw new UsageError('--speed must be a number >= 0')
    const from = values.from === undefined ? 0 : Number(values.from)
    if (!Number.isFinite(from) || from < 0) throw new UsageError('--from must be a number of seconds >= 0')
    const lingerMs = intOption(values.linger, 'linger', 0, 0, 86400) * 1000
    const toStdout = values.out === '-' || (values.out === undefined && !process.stdout.isTTY)
    const sink = values.out && values.out !== '-' ? createWriteStream(values.out) : toStdout ? process.stdout : undefined

    // The Node SDK brings a WebRTC stack (native, four threads): only `play` loads it, not every
    // command that shares this CLI.
    const { createClient } = await import('../index.js')
    const client = await createClient({
      edge: values.edge ?? `http://127.0.0.1:${DEFAULT_PORTS.edge}`,
      tracker: values.tracker ?? `ws://127.0.0.1:${DEFAULT_PORTS.tracker}/announce`,
      apiKey: values['api-key'] ?? process.env.CHORUS_API_KEY ?? 'chorus-demo-key',
      ...(values['public-key'] && { publicKey: values['public-key'] }),
      ...(values.cache && { cache: { dir: values.cache } }),
      ...(values['no-p2p'] && { p2p: false }),
      ...(values['download-only'] && { upload: false as const }),
      speed,
    })
    const report = (line: string) => (toStdout ? process.stderr : process.stdout).write(line)
    try {
      const playback = client.play(trackId, { quality, from })
      playback.on('stall', (e) => process.stderr.write(`stall at ${(e.atMs / 1000).toFixed(1)} s\n`))
      playback.on('resume', (e) => process.stderr.write(`resumed after ${e.stalledMs.toFixed(0)} ms\n`))
      const ended = new Promise<void>((resolve, reject) => {
        playback.on('end', () => resolve())
        playback.on('error', reject)
      })
      const start = await playback.ready
      if (!values.json) process.stderr.write(`playing ${trackId} at ${playback.stats()?.bitrate} kbit/s; first audio after ${start.timeToFirstAudioMs.toFixed(0)} ms${start.fromCache ? ' (from cache)' : ''}\n`)
      await Promise.all([playback.stream.pipeTo(sink ? (Writable.toWeb(sink) as WritableStream<Uint8Array>) : new WritableStream()), ended])
      if (lingerMs) await new Promise((r) => setTimeout(r, lingerMs))
      const stats = { ...playback.stats(), client: client.stats() }
      if (values.json) report(`${JSON.stringify(stats)}\n`)
      else {
        const b = stats.bytes!
        const total = b.cache + b.peer + b.edge || 1
        process.stderr.write(
          `done: ${stats.stalls} stall(s), ${Math.round((100 * b.peer) / total)}% from peers, ${Math.round((100 * b.edge) / total)}% from the edge, ${Math.round((100 * b.cache) / total)}% from cache; ${stats.peersConnected} peer(s); ${stats.chunksRejected} chunk(s) rejected\n`,
        )
      }
      return 0
    } catch (err) {
      if (isChorusError(err)) {
        process.stderr.write(`chorus play: ${err.code}: ${err.message}\n`)
        return 1
      }
      throw err
    } finally {
      await client.close()
      if (sink && sink !== process.stdout && !sink.writableEnded) await new Promise<void>((r) => sink.end(() => r()))
    }
  },
}

const buildPlayerCommand: Command = {
  summary: 'build the web player and operator page for the edge to serve',
  help: `Usage: chorus build-player [options]

Bundles the web player (client-sdk/player/) with the SDK's browser build into the directory
wrangler.toml's [assets] names (client-sdk/player/dist), with the config.json the page reads.
\`chorus start\` does this by itself; run it before \`wrangler deploy\`.

Options:
  --tracker URL     the tracker's WebSocket URL the page uses (none: edge-only playback)
  --origin URL      the origin, for the operator page's figures
  --api-key KEY     the API key the page exchanges for sessions (default: chorus-demo-key)
  --public-key B64  the origin's manifest key to pin
  --out DIR         output directory (default: client-sdk/player/dist)
  -h, --help        this help
`,
  async run(argv) {
    const { values } = parseCommandArgs(argv, {
      tracker: { type: 'string' },
      origin: { type: 'string' },
      'api-key': { type: 'string' },
      'public-key': { type: 'string' },
      out: { type: 'string' },
    })
    const { buildPlayer } = await import('../player/build.js')
    const dir = await buildPlayer(
      {
        apiKey: values['api-key'] ?? 'chorus-demo-key',
        ...(values.tracker && { tracker: values.tracker }),
        ...(values.origin && { origin: values.origin }),
        ...(values['public-key'] && { publicKey: values['public-key'] }),
      },
      ...(values.out ? [values.out] : []),
    )
    process.stdout.write(`built the web player into ${dir}\n`)
    return 0
  },
}

export const commands: Record<string, Command> = { play, 'build-player': buildPlayerCommand }
