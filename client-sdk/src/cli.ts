import { createWriteStream } from 'node:fs'
import { rm, writeFile } from 'node:fs/promises'
import { extname } from 'node:path'
import { Writable } from 'node:stream'
import { type Command, DEFAULT_PORTS, UsageError, intOption, parseCommandArgs } from '../../support/command.js'
import { parseIceServers } from './core/privacy.js'
import { MAX_CROSSFADE_SEC } from './core/transition.js'
import { isChorusError } from './errors.js'
import type { PlaybackStats } from './playback.js'
import { type RenderTrack, RenderError, encodeWav, ffmpegForRender, renderTracks } from './render.js'

const play: Command = {
  summary: 'play tracks from the command line, peer-assisted; write the audio (or a rendered WAV) to a file or stdout',
  help: `Usage: chorus play <trackId> [options]
       chorus play <trackId> [<trackId>...] --out FILE.wav [--crossfade S]

Plays tracks through the SDK, in order: the head from the edge, the rest from peers where they
have it, every chunk verified and decrypted; the next track is queued, so it is prefetched as
the current one ends. Serves its cache to other listeners while it plays, then prints its stats.

What --out gets:
  FILE.wav          the tracks decoded (by ffmpeg), encoder priming and padding trimmed, joined
                    gaplessly or crossfaded (--crossfade): 32-bit float WAV at the first
                    track's rate. One track or several.
  any other FILE    one track's stream as it is: a fragmented MP4 (AAC: the init segment and
                    every fragment, e.g. song.m4a) or MP3 for older catalogs. '-' is stdout.

Options:
  --edge URL        edge to play from (default: http://127.0.0.1:${DEFAULT_PORTS.edge})
  --keys URL        key service for sessions and track keys, i.e. the origin; never the edge
                    (default: the origin of \`chorus start\`, http://127.0.0.1:${DEFAULT_PORTS.origin};
                    required with --edge)
  --tracker URL     tracker (default: ws://127.0.0.1:${DEFAULT_PORTS.tracker}/announce)
  --api-key KEY     API key for a session (default: $CHORUS_API_KEY or chorus-demo-key)
  --public-key B64  the origin's manifest key to pin (default: asked of the key service)
  --cache DIR       local cache directory (default: ~/.cache/chorus)
  --quality Q       auto, 96, 160 or 320 (default: auto)
  --from S          start at S seconds (a stream only; a WAV renders whole tracks)
  --speed X         play X times faster than real time; 0 = as fast as data comes (default: 1)
  --linger S        keep serving peers S seconds after the last track ends (default: 0)
  --no-p2p          play from the edge and the cache only
  --download-only   take from peers, serve nobody
  --out FILE        write the audio here ('-' for stdout; .wav renders decoded audio)
  --crossfade S     with a .wav: overlap consecutive tracks by S seconds, 0-${MAX_CROSSFADE_SEC} (default: 0, gapless)
  --json            print the stats as one JSON object, the last line of stdout
                    (of stderr when the audio goes to stdout); several tracks: { tracks, client }
  -h, --help        this help
`,
  async run(argv) {
    const { values, positionals } = parseCommandArgs(
      argv,
      {
        edge: { type: 'string' },
        keys: { type: 'string' },
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
        crossfade: { type: 'string' },
        json: { type: 'boolean' },
      },
      true,
    )
    const trackIds = positionals
    if (trackIds.length === 0) throw new UsageError('name a track id (or several, with --out FILE.wav)')
    const render = values.out !== undefined && extname(values.out).toLowerCase() === '.wav'
    // Keys come from the key service only. With an edge of its own, the local origin is a guess that would be wrong: ask.
    if (values.edge !== undefined && values.keys === undefined) throw new UsageError('--keys URL (the key service, i.e. the origin) is required with --edge: keys never go through the edge')
    if (trackIds.length > 1 && !render) throw new UsageError('several tracks are rendered to a WAV only (--out FILE.wav): each stream has its own init segment')
    const quality = values.quality === undefined || values.quality === 'auto' ? 'auto' : intOption(values.quality, 'quality', 160, 8, 640)
    const speed = values.speed === undefined ? 1 : Number(values.speed)
    if (!Number.isFinite(speed) || speed < 0) throw new UsageError('--speed must be a number >= 0')
    const from = values.from === undefined ? 0 : Number(values.from)
    if (!Number.isFinite(from) || from < 0) throw new UsageError('--from must be a number of seconds >= 0')
    if (from > 0 && render) throw new UsageError('--from plays part of a track: a WAV renders whole tracks')
    const crossfade = values.crossfade === undefined ? 0 : Number(values.crossfade)
    if (!Number.isFinite(crossfade) || crossfade < 0 || crossfade > MAX_CROSSFADE_SEC) throw new UsageError(`--crossfade must be a number of seconds from 0 to ${MAX_CROSSFADE_SEC}`)
    if (crossfade > 0 && !render) throw new UsageError('--crossfade applies to a rendered WAV (--out FILE.wav)')
    const lingerMs = intOption(values.linger, 'linger', 0, 0, 86400) * 1000
    const toStdout = values.out === '-' || (values.out === undefined && !process.stdout.isTTY)
    // A WAV is written once everything is decoded; a stream goes to its file as it plays.
    const sink = render ? undefined : values.out && values.out !== '-' ? createWriteStream(values.out) : toStdout ? process.stdout : undefined
    // Found before anything plays: a render without ffmpeg fails at once, not after the music.
    const ffmpeg = render ? await ffmpegForRender().catch((err: Error) => err) : undefined
    if (ffmpeg instanceof Error) {
      process.stderr.write(`chorus play: ${ffmpeg.message}\n`)
      return 1
    }

    // The Node SDK brings a WebRTC stack (native, four threads): only `play` loads it, not every
    // command that shares this CLI.
    const { createClient } = await import('../index.js')
    const client = await createClient({
      edge: values.edge ?? `http://127.0.0.1:${DEFAULT_PORTS.edge}`,
      keys: values.keys ?? `http://127.0.0.1:${DEFAULT_PORTS.origin}`,
      tracker: values.tracker ?? `ws://127.0.0.1:${DEFAULT_PORTS.tracker}/announce`,
      apiKey: values['api-key'] ?? process.env.CHORUS_API_KEY ?? 'chorus-demo-key',
      ...(values['public-key'] && { publicKey: values['public-key'] }),
      ...(values.cache && { cache: { dir: values.cache } }),
      ...(values['no-p2p'] && { p2p: false }),
      ...(values['download-only'] && { upload: false as const }),
      speed,
    })
    const report = (line: string) => (toStdout ? process.stderr : process.stdout).write(line)
    // The SDK's timers do not hold the process (a forgotten client must not keep an app alive):
    // this command waits on its playback, so it holds the process itself until it is done.
    const keepAlive = setInterval(() => {}, 60_000)
    // A rejection nothing handled is a failure of this command like any other: one line, exit 1,
    // after the cleanup below (the cache's writes finish, no temporary file stays).
    let stray!: (err: unknown) => void
    const strayFailure = new Promise<never>((_, reject) => (stray = reject))
    strayFailure.catch(() => {})
    const onUnhandled = (err: unknown) => stray(err)
    process.on('unhandledRejection', onUnhandled)
    let failed = true
    const work = async (): Promise<number> => {
      const played: Array<{ stats: PlaybackStats; track?: RenderTrack }> = []
      for (const [n, trackId] of trackIds.entries()) {
        // The rest are queued: the client prefetches the next one's head as this one ends.
        client.queue(trackIds.slice(n + 1))
        const playback = client.play(trackId, { quality, from })
        playback.on('stall', (e) => process.stderr.write(`stall at ${(e.atMs / 1000).toFixed(1)} s\n`))
        playback.on('resume', (e) => process.stderr.write(`resumed after ${e.stalledMs.toFixed(0)} ms\n`))
        const ended = new Promise<void>((resolve, reject) => {
          playback.on('end', () => resolve())
          playback.on('error', reject)
        })
        ended.catch(() => {})
        const start = await playback.ready
        const media = await playback.media
        if (!values.json)
          process.stderr.write(
            `playing ${trackId} at ${playback.stats()?.bitrate} kbit/s (${media.quality.codec === 'aac' ? 'AAC' : 'MP3'}); first audio after ${start.timeToFirstAudioMs.toFixed(0)} ms${start.fromCache ? ' (from cache)' : ''}\n`,
          )
        if (render) {
          const [bytes] = await Promise.all([collect(playback.stream), ended])
          played.push({ stats: playback.stats()!, track: { bytes, codec: media.quality.codec, timing: media.timing, channels: media.quality.channels } })
        } else {
          await Promise.all([playback.stream.pipeTo(sink ? (Writable.toWeb(sink) as WritableStream<Uint8Array>) : new WritableStream()), ended])
          played.push({ stats: playback.stats()! })
        }
      }
      if (render) {
        const pcm = await renderTracks(
          played.map((p) => p.track!),
          { crossfadeSec: crossfade, ffmpeg: ffmpeg! },
        )
        await writeFile(values.out!, encodeWav(pcm))
        if (!values.json)
          process.stderr.write(
            `wrote ${values.out}: ${(pcm.channels[0]!.length / pcm.sampleRate).toFixed(2)} s at ${pcm.sampleRate} Hz${trackIds.length > 1 ? (crossfade > 0 ? `, ${crossfade} s crossfades` : ', gapless') : ''}\n`,
          )
      }
      if (lingerMs) await new Promise((r) => setTimeout(r, lingerMs))
      const all = played.map((p) => p.stats)
      if (values.json) {
        const stats = all.length === 1 ? { ...all[0]!, client: client.stats() } : { tracks: all, client: client.stats() }
        report(`${JSON.stringify(stats)}\n`)
      } else {
        const b = { cache: 0, peer: 0, edge: 0 }
        for (const s of all) for (const k of ['cache', 'peer', 'edge'] as const) b[k] += s.bytes[k]
        const total = b.cache + b.peer + b.edge || 1
        const stalls = all.reduce((n, s) => n + s.stalls, 0)
        const rejected = all.reduce((n, s) => n + s.chunksRejected, 0)
        const peers = Math.max(0, ...all.map((s) => s.peersConnected))
        process.stderr.write(
          `done: ${stalls} stall(s), ${Math.round((100 * b.peer) / total)}% from peers, ${Math.round((100 * b.edge) / total)}% from the edge, ${Math.round((100 * b.cache) / total)}% from cache; ${peers} peer(s); ${rejected} chunk(s) rejected\n`,
        )
      }
      failed = false
      return 0
    }
    try {
      const running = work()
      running.catch(() => {})
      return await Promise.race([running, strayFailure])
    } catch (err) {
      if (isChorusError(err)) {
        process.stderr.write(`chorus play: ${err.code}: ${oneLine(err.message)}\n`)
        return 1
      }
      if (err instanceof RenderError) {
        process.stderr.write(`chorus play: ${oneLine(err.message)}\n`)
        return 1
      }
      throw new Error(oneLine(String((err as Error)?.message ?? err)), { cause: err })
    } finally {
      clearInterval(keepAlive)
      await client.close()
      process.off('unhandledRejection', onUnhandled)
      if (sink && sink !== process.stdout && !sink.destroyed && !sink.writableEnded) await new Promise<void>((r) => sink.end(() => r()))
      // A stream cut short is not the track: no partial file is left where the audio was asked for.
      if (failed && sink && sink !== process.stdout && values.out) await rm(values.out, { force: true }).catch(() => {})
    }
  },
}

const oneLine = (text: string) => text.replace(/\s+/g, ' ').trim()

/** Reads a whole stream into one buffer. */
async function collect(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = []
  for await (const part of stream as unknown as AsyncIterable<Uint8Array>) parts.push(part)
  return Buffer.concat(parts)
}

const buildPlayerCommand: Command = {
  summary: 'build the web player and operator page for the edge to serve',
  help: `Usage: chorus build-player [options]

Bundles the web player (client-sdk/player/) with the SDK's browser build into the directory
wrangler.toml's [assets] names (client-sdk/player/dist), with the config.json the page reads.
\`chorus start\` does this by itself; run it before \`wrangler deploy\`.

Options:
  --tracker URL     the tracker's WebSocket URL the page uses (none: edge-only playback)
  --origin URL      the origin: the key service the page takes sessions and keys from
                    (never the edge), and the operator page's figures. Required
  --ice-servers JSON  the page's WebRTC iceServers, e.g. '[{"urls":"turn:turn.example:3478",
                    "username":"u","credential":"p"}]': a turn: or turns: URL lets listeners
                    choose relay-only (default: none)
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
      'ice-servers': { type: 'string' },
      out: { type: 'string' },
    })
    if (!values.origin) throw new UsageError('--origin URL is required: the page takes its sessions and keys from the origin, never through the edge')
    const iceServers = values['ice-servers'] === undefined ? undefined : parseIceServers(values['ice-servers'])
    if (iceServers instanceof Error) throw new UsageError(`--ice-servers: ${iceServers.message}`)
    const { buildPlayer } = await import('../player/build.js')
    const dir = await buildPlayer(
      {
        apiKey: values['api-key'] ?? 'chorus-demo-key',
        ...(values.tracker && { tracker: values.tracker }),
        origin: values.origin,
        ...(values['public-key'] && { publicKey: values['public-key'] }),
        ...(iceServers && { iceServers }),
      },
      ...(values.out ? [values.out] : []),
    )
    process.stdout.write(`built the web player into ${dir}\n`)
    return 0
  },
}

export const commands: Record<string, Command> = { play, 'build-player': buildPlayerCommand }
