import { readdir, stat } from 'node:fs/promises'
import { extname, join } from 'node:path'
import { type Command, DEFAULT_PORTS, UsageError, announceReady, defaultDataDir, intOption, parseCommandArgs, untilSignal } from '../../cli/command.js'
import { STANDARD_BITRATES, isBitrate, isChunkSize } from '../../protocol/index.js'
import { DEMO_API_KEY } from './api-keys.js'
import { AudioError } from './audio/pcm.js'
import { DEMO_TRACKS, synthesizeTrack } from './audio/demo-music.js'
import { type IngestOptions, type IngestResult, ingestFile, ingestPcm } from './ingest.js'
import { loadOriginKeys } from './keys.js'
import { createProgress } from './progress.js'
import { startOrigin } from './server.js'
import { createStore, sweepStaging, writeConfigFile } from './store.js'

const AUDIO_EXTENSIONS = new Set(['.wav', '.wave', '.mp3', '.flac', '.ogg', '.oga', '.opus', '.m4a', '.aac', '.aif', '.aiff', '.wma', '.webm'])

async function expandInputs(inputs: string[]): Promise<string[]> {
  const files: string[] = []
  for (const input of inputs) {
    const info = await stat(input).catch(() => undefined)
    if (!info) throw new UsageError(`no such file or directory: ${input}`)
    if (info.isDirectory()) {
      const names = (await readdir(input, { recursive: true })).map(String).sort()
      for (const name of names) if (AUDIO_EXTENSIONS.has(extname(name).toLowerCase())) files.push(join(input, name))
    } else files.push(input)
  }
  return files
}

function formatDuration(ms: number): string {
  const s = Math.round(ms / 1000)
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`
}

/** Creates the demo catalog: a dozen synthesized tracks in three qualities, and the demo API key. */
export async function ingestDemo(dataDir: string, options: { durationSec?: number; count?: number; json?: boolean; workers?: number; chunkSize?: number; onTrack?: (r: IngestResult) => void }): Promise<IngestResult[]> {
  const keys = await loadOriginKeys(dataDir)
  await writeConfigFile(dataDir, { apiKeys: { [DEMO_API_KEY]: { name: 'demo', scope: ['play', 'announce'] } } })
  const specs = DEMO_TRACKS.slice(0, options.count ?? DEMO_TRACKS.length)
  const progress = createProgress(process.stderr, !options.json && process.stderr.isTTY === true)
  const results: IngestResult[] = []
  for (const [i, spec] of specs.entries()) {
    const durationSec = options.durationSec ?? spec.durationSec
    const pcm = synthesizeTrack({ seed: spec.seed, durationSec })
    const ingestOptions: IngestOptions = {
      dataDir,
      keys,
      onProgress: (f) => progress.update(`demo ${i + 1}/${specs.length}: ${spec.title}`, (i + f) / specs.length),
      ...(options.workers !== undefined && { workers: options.workers }),
      ...(options.chunkSize !== undefined && { chunkSize: options.chunkSize }),
    }
    const result = await ingestPcm(pcm, { trackId: spec.id, title: spec.title, artist: spec.artist, album: spec.album }, ingestOptions)
    results.push(result)
    options.onTrack?.(result)
  }
  progress.done()
  return results
}

const ingest: Command = {
  summary: 'turn audio files into encrypted, signed masters in the catalog',
  help: `Usage: chorus ingest [options] <file|dir>...
       chorus ingest --demo [options]

Turns audio into masters: for each quality, 32 KiB chunks encrypted with AES-128-CTR under one
random key per track, a SHA-256 per encrypted chunk, and a manifest signed with the origin's
Ed25519 key. Every input (WAV, MP3, FLAC, Ogg, M4A: anything ffmpeg decodes) is encoded to
AAC-LC in fragmented MP4 at 96, 160 and 320 kbit/s, one ffmpeg process per quality. ffmpeg is
$CHORUS_FFMPEG, the one the npm package @ffmpeg-installer/linux-x64 ships, or ffmpeg on PATH;
without any, WAV is encoded to MP3 by a slow pure-JS encoder and an MP3 is kept as it is.
A re-ingest of a track id makes a new version; the old one stays playable.

Options:
  --data DIR          catalog directory (default: $CHORUS_DATA or ./data)
  --demo              create the demo catalog: 12 synthesized tracks of 2-4 minutes
  --demo-duration S   with --demo: make every track S seconds long (for quick tests)
  --demo-count N      with --demo: only the first N tracks
  --id ID             track id (one input file only; default: from the file name)
  --title T           title (one input file only; default: the file name)
  --artist A          artist (default: "Unknown artist")
  --album A           album
  --bitrates LIST     qualities to encode, in kbit/s (default: 96,160,320)
  --chunk-size BYTES  chunk size, a multiple of 16 (default: 32768)
  --workers N         encoder processes at once (default: one per core)
  --codec C           aac (the default with ffmpeg) or mp3 (the pure-JS fallback, for old players)
  --json              print one JSON object with the results instead of a table
  -h, --help          this help
`,
  async run(argv) {
    const { values, positionals } = parseCommandArgs(
      argv,
      {
        data: { type: 'string' },
        demo: { type: 'boolean' },
        'demo-duration': { type: 'string' },
        'demo-count': { type: 'string' },
        id: { type: 'string' },
        title: { type: 'string' },
        artist: { type: 'string' },
        album: { type: 'string' },
        bitrates: { type: 'string' },
        'chunk-size': { type: 'string' },
        workers: { type: 'string' },
        codec: { type: 'string' },
        json: { type: 'boolean' },
      },
      true,
    )
    const dataDir = values.data ?? defaultDataDir()
    const json = values.json === true
    const chunkSize = intOption(values['chunk-size'], 'chunk-size', 32768, 1024, 4 * 1024 * 1024)
    if (!isChunkSize(chunkSize)) throw new UsageError('--chunk-size must be a multiple of 16 between 1024 and 4194304')
    const bitrates = values.bitrates ? values.bitrates.split(',').map((b) => Number(b.trim())) : [...STANDARD_BITRATES]
    if (!bitrates.every(isBitrate) || bitrates.length === 0 || bitrates.some((b) => b > 320)) throw new UsageError('--bitrates must be a comma-separated list of kbit/s values up to 320')
    const workers = values.workers === undefined ? undefined : intOption(values.workers, 'workers', 1, 1, 64)
    if (values.codec !== undefined && values.codec !== 'aac' && values.codec !== 'mp3') throw new UsageError('--codec must be aac or mp3')
    const codec = values.codec as 'aac' | 'mp3' | undefined
    let warned = false
    const onWarning = (message: string) => {
      if (!warned) process.stderr.write(`warning: ${message}\n`)
      warned = true
    }
    await sweepStaging(dataDir)
    const started = performance.now()
    const results: IngestResult[] = []
    const errors: Array<{ file: string; code: string; message: string }> = []

    if (values.demo) {
      if (positionals.length) throw new UsageError('--demo takes no files')
      const demoOptions: Parameters<typeof ingestDemo>[1] = { json, chunkSize }
      if (values['demo-duration'] !== undefined) demoOptions.durationSec = intOption(values['demo-duration'], 'demo-duration', 0, 1, 3600)
      if (values['demo-count'] !== undefined) demoOptions.count = intOption(values['demo-count'], 'demo-count', 12, 1, DEMO_TRACKS.length)
      if (workers !== undefined) demoOptions.workers = workers
      results.push(...(await ingestDemo(dataDir, demoOptions)))
    } else {
      if (positionals.length === 0) throw new UsageError('name at least one file or directory, or use --demo')
      const files = await expandInputs(positionals)
      if (files.length === 0) throw new UsageError(`no audio files in ${positionals.join(', ')}`)
      if (files.length > 1 && (values.id || values.title)) throw new UsageError('--id and --title name one track: give one file')
      const keys = await loadOriginKeys(dataDir)
      const progress = createProgress(process.stderr, !json && process.stderr.isTTY === true)
      for (const [i, file] of files.entries()) {
        try {
          const options: IngestOptions = { dataDir, keys, chunkSize, bitrates, onWarning, ...(codec && { codec }), onProgress: (f) => progress.update(`${i + 1}/${files.length}: ${file}`, (i + f) / files.length) }
          if (workers !== undefined) options.workers = workers
          const meta = { ...(values.id && { trackId: values.id }), ...(values.title && { title: values.title }), ...(values.artist && { artist: values.artist }), ...(values.album && { album: values.album }) }
          results.push(await ingestFile(file, meta, options))
        } catch (err) {
          const code = err instanceof AudioError ? err.code : ((err as { code?: string }).code ?? 'ingest_failed')
          const message = (err as Error).message.includes(file) ? (err as Error).message : `${file}: ${(err as Error).message}`
          errors.push({ file, code: String(code), message })
        }
      }
      progress.done()
    }

    const seconds = (performance.now() - started) / 1000
    if (json) {
      process.stdout.write(`${JSON.stringify({ ok: errors.length === 0, dataDir, seconds: Math.round(seconds * 10) / 10, tracks: results, errors })}\n`)
    } else {
      for (const r of results) {
        process.stdout.write(`${r.trackId.padEnd(20)} ${r.version}  ${formatDuration(r.durationMs).padStart(5)}  ${r.bitrates.join('/')} kbit/s  ${r.chunks} chunks  ${r.title} - ${r.artist}\n`)
      }
      for (const e of errors) process.stderr.write(`error: ${e.message}\n`)
      const bytes = results.reduce((n, r) => n + r.bytes, 0)
      process.stdout.write(`ingested ${results.length} track(s), ${(bytes / 1e6).toFixed(1)} MB, in ${seconds.toFixed(1)} s into ${dataDir}${errors.length ? `; ${errors.length} failed` : ''}\n`)
    }
    return errors.length === 0 ? 0 : 1
  },
}

const origin: Command = {
  summary: 'serve the catalog: manifests, chunks, keys and sessions',
  help: `Usage: chorus origin [options]

Serves the catalog over HTTP (Hono on Node): the track list, signed manifests, encrypted chunks,
session tokens for API keys, and track keys to valid tokens only. The signing key and token
secret are generated into DIR/keys on first run unless given by environment
(CHORUS_SIGNING_KEY: Ed25519 PKCS#8 DER in base64url; CHORUS_TOKEN_SECRET). API keys come from
DIR/config.json and CHORUS_API_KEYS=key1,key2:name.

Options:
  --data DIR          catalog directory (default: $CHORUS_DATA or ./data)
  --host HOST         address to listen on (default: 127.0.0.1)
  --port PORT         port, 0 for any free one (default: ${DEFAULT_PORTS.origin})
  --memory MB         hot chunks kept in memory (default: 256)
  --token-ttl S       session token lifetime in seconds (default: 3600)
  --manifest-max-age S  max-age of current manifests and the catalog (default: 10)
  --quiet             no request log (one JSON line per request on stdout otherwise)
  --print-public-key  print the manifest-signing public key and exit
  --json              print {"ready":true,"url":...,"publicKey":...} once listening
  -h, --help          this help
`,
  async run(argv) {
    const { values } = parseCommandArgs(argv, {
      data: { type: 'string' },
      host: { type: 'string' },
      port: { type: 'string' },
      memory: { type: 'string' },
      'token-ttl': { type: 'string' },
      'manifest-max-age': { type: 'string' },
      quiet: { type: 'boolean' },
      'print-public-key': { type: 'boolean' },
      json: { type: 'boolean' },
    })
    const dataDir = values.data ?? defaultDataDir()
    if (values['print-public-key']) {
      const keys = await loadOriginKeys(dataDir)
      process.stdout.write(`${keys.publicKey}\n`)
      return 0
    }
    const server = await startOrigin({
      dataDir,
      host: values.host ?? '127.0.0.1',
      port: intOption(values.port, 'port', DEFAULT_PORTS.origin, 0, 65535),
      memoryBytes: intOption(values.memory, 'memory', 256, 0, 1 << 20) * 1024 * 1024,
      tokenTtlSec: intOption(values['token-ttl'], 'token-ttl', 3600, 10, 86400 * 7),
      manifestMaxAgeSec: intOption(values['manifest-max-age'], 'manifest-max-age', 10, 0, 86400),
      ...(!values.quiet && { log: (line: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(line)}\n`) }),
    })
    const tracks = (await createStore({ dataDir }).catalog()).length
    announceReady(values.json === true, 'origin', { url: server.url, publicKey: server.keys.publicKey, keyId: server.keys.keyId, tracks })
    if (!values.json) process.stderr.write(`catalog: ${tracks} track(s) in ${dataDir}\nmanifest public key (for edges and players): ${server.keys.publicKey}\n`)
    await untilSignal()
    await server.close()
    return 0
  },
}

export const commands: Record<string, Command> = { ingest, origin }
