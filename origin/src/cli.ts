import { readdir, stat } from 'node:fs/promises'
import { extname, join } from 'node:path'
import { type Command, DEFAULT_PORTS, UsageError, announceReady, defaultDataDir, intOption, parseCommandArgs, untilSignal } from '../../support/command.js'
import { STANDARD_BITRATES, isBitrate, isChunkSize } from '../../protocol/index.js'
import { AudioError } from './audio/pcm.js'
import { DEMO_TRACKS } from './audio/demo-music.js'
import { type IngestOptions, type IngestResult, ingestFile } from './ingest.js'
import { loadOriginKeys } from './keys.js'
import { createProgress } from './progress.js'
import { startOrigin } from './server.js'
import type { LocalR2 } from './local-r2.js'
import { createR2Publisher, parseR2Target, sweepR2 } from './r2-store.js'
import type { MasterPublisher } from './storage.js'
import { createStore, sweepStaging } from './store.js'
import { ingestDemo } from './demo-catalog.js'
import { createDirectoryKeyStore } from './track-key-dir.js'
import { createKeyServiceWriter } from './key-service-client.js'
import { type S3Target, createS3Bucket } from './s3-bucket.js'
import { createS3Store, describeS3Target, parseS3Target } from './s3-store.js'

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

/** The bucket of an s3:// target, once it answers: a wrong endpoint, bucket or key fails here, before any work. */
async function openS3Bucket(target: S3Target) {
  const bucket = createS3Bucket(target)
  await bucket.check()
  return bucket
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

With --to r2://BUCKET the masters go to an R2 bucket instead of DIR: every object of a
version first, then the catalog index that makes it current, so a crash leaves no half track.
The bucket is the local one \`wrangler dev --persist-to P\` serves (P: --persist). Track keys
never go in the bucket: with --key-service they go to the origin Worker's key vault (operator
token in $CHORUS_OPERATOR_TOKEN), else they stay in DIR/track-keys/. DIR holds the signing key.

With --to s3://BUCKET the same goes to a bucket over the S3 API (R2's S3 endpoint, AWS S3,
MinIO...): s3://BUCKET?endpoint=URL&region=R&style=path|virtual, credentials in
$AWS_ACCESS_KEY_ID and $AWS_SECRET_ACCESS_KEY ($AWS_SESSION_TOKEN if temporary); endpoint and
region may also come from $AWS_ENDPOINT_URL_S3 and $AWS_REGION. \`chorus origin --masters\` serves it.

Options:
  --data DIR          catalog directory (default: $CHORUS_DATA or ./data)
  --to r2://BUCKET    publish into this R2 bucket (local, through Miniflare) instead of DIR
  --to s3://BUCKET?endpoint=URL  publish into this bucket over the S3 API instead of DIR
  --persist P         with --to r2://: wrangler's local state directory (default: .wrangler/state)
  --key-service URL   with --to: hand each key to the origin Worker at URL (PUT /v1/admin/track-keys)
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
        to: { type: 'string' },
        persist: { type: 'string' },
        'key-service': { type: 'string' },
        json: { type: 'boolean' },
      },
      true,
    )
    const s3 = values.to?.startsWith('s3://') ? parseS3Target(values.to, process.env) : undefined
    if (typeof s3 === 'string') throw new UsageError(`--to ${values.to}: ${s3}`)
    const bucketName = values.to === undefined || s3 ? undefined : parseR2Target(values.to)
    if (values.to !== undefined && !bucketName && !s3) throw new UsageError('--to must be r2://BUCKET (3-63 lowercase letters, digits and hyphens) or s3://BUCKET[?endpoint=URL]')
    if (values.persist !== undefined && !bucketName) throw new UsageError('--persist goes with --to r2://BUCKET')
    if (values['key-service'] !== undefined && values.to === undefined) throw new UsageError('--key-service goes with --to r2://BUCKET or s3://BUCKET')
    const target = s3 ? `s3://${s3.bucket}` : bucketName ? `r2://${bucketName}` : undefined
    const keyService = values['key-service']
    if (keyService !== undefined && !/^https?:\/\/[^/]+/.test(keyService)) throw new UsageError('--key-service must be an http(s) URL')
    const operatorToken = process.env.CHORUS_OPERATOR_TOKEN
    if (keyService !== undefined && !operatorToken) throw new UsageError("--key-service needs the origin Worker's operator token in CHORUS_OPERATOR_TOKEN")
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
    let r2: LocalR2 | undefined
    let publisher: MasterPublisher | undefined
    const trackKeys = keyService !== undefined ? createKeyServiceWriter({ url: keyService, operatorToken: operatorToken! }) : createDirectoryKeyStore(join(dataDir, 'track-keys'))
    if (bucketName) {
      // Loaded only here: Miniflare is large, and every other command does without it.
      const { openLocalR2 } = await import('./local-r2.js')
      r2 = await openLocalR2({ bucketName, ...(values.persist !== undefined && { persistDir: values.persist }) })
      await sweepR2(r2.bucket)
      publisher = createR2Publisher(r2.bucket, { trackKeys })
    } else if (s3) {
      // The same publisher and sweep as R2's, over the S3 API: only the bucket differs.
      const bucket = await openS3Bucket(s3)
      await sweepR2(bucket)
      publisher = createR2Publisher(bucket, { trackKeys })
    }
    try {
      return await runIngest()
    } finally {
      await r2?.close()
    }

    async function runIngest(): Promise<number> {
      const started = performance.now()
      const results: IngestResult[] = []
      const errors: Array<{ file: string; code: string; message: string }> = []

      if (values.demo) {
        if (positionals.length) throw new UsageError('--demo takes no files')
        const demoOptions: Parameters<typeof ingestDemo>[1] = { json, chunkSize }
        if (values['demo-duration'] !== undefined) demoOptions.durationSec = intOption(values['demo-duration'], 'demo-duration', 0, 1, 3600)
        if (values['demo-count'] !== undefined) demoOptions.count = intOption(values['demo-count'], 'demo-count', 12, 1, DEMO_TRACKS.length)
        if (workers !== undefined) demoOptions.workers = workers
        if (publisher) demoOptions.publisher = publisher
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
            const options: IngestOptions = {
              dataDir,
              keys,
              chunkSize,
              bitrates,
              onWarning,
              ...(codec && { codec }),
              ...(publisher && { publisher }),
              onProgress: (f) => progress.update(`${i + 1}/${files.length}: ${file}`, (i + f) / files.length),
            }
            if (workers !== undefined) options.workers = workers
            const meta = {
              ...(values.id && { trackId: values.id }),
              ...(values.title && { title: values.title }),
              ...(values.artist && { artist: values.artist }),
              ...(values.album && { album: values.album }),
            }
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
        process.stdout.write(`${JSON.stringify({ ok: errors.length === 0, dataDir, ...(target && { to: target }), seconds: Math.round(seconds * 10) / 10, tracks: results, errors })}\n`)
      } else {
        for (const r of results) {
          process.stdout.write(`${r.trackId.padEnd(20)} ${r.version}  ${formatDuration(r.durationMs).padStart(5)}  ${r.bitrates.join('/')} kbit/s  ${r.chunks} chunks  ${r.title} - ${r.artist}\n`)
        }
        for (const e of errors) process.stderr.write(`error: ${e.message}\n`)
        const bytes = results.reduce((n, r) => n + r.bytes, 0)
        process.stdout.write(
          `ingested ${results.length} track(s), ${(bytes / 1e6).toFixed(1)} MB, in ${seconds.toFixed(1)} s into ${target ?? dataDir}${errors.length ? `; ${errors.length} failed` : ''}\n`,
        )
      }
      return errors.length === 0 ? 0 : 1
    }
  },
}

const origin: Command = {
  summary: 'serve the catalog: manifests, chunks, keys and sessions',
  help: `Usage: chorus origin [options]

Serves the catalog over HTTP (Hono on Node): the track list, signed manifests, encrypted chunks,
session tokens for API keys, and track keys to valid tokens only. The signing key is
generated into DIR/keys on first run unless given by environment
(CHORUS_SIGNING_KEY: Ed25519 PKCS#8 DER in base64url); that key also signs session tokens,
which edges and trackers check with its public key. API keys come from
DIR/config.json and CHORUS_API_KEYS=key1,key2:name.

With --masters s3://BUCKET?endpoint=URL the masters are read from a bucket over the S3 API (what
\`chorus ingest --to s3://\` wrote; credentials in $AWS_ACCESS_KEY_ID and $AWS_SECRET_ACCESS_KEY)
and the track keys from DIR/track-keys/.

Options:
  --data DIR          catalog directory (default: $CHORUS_DATA or ./data)
  --masters s3://BUCKET?endpoint=URL  serve the masters from this bucket instead of DIR
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
      masters: { type: 'string' },
    })
    const dataDir = values.data ?? defaultDataDir()
    const s3 = values.masters === undefined ? undefined : parseS3Target(values.masters, process.env)
    if (typeof s3 === 'string') throw new UsageError(`--masters ${values.masters}: ${s3}`)
    if (values['print-public-key']) {
      const keys = await loadOriginKeys(dataDir)
      process.stdout.write(`${keys.publicKey}\n`)
      return 0
    }
    const memoryBytes = intOption(values.memory, 'memory', 256, 0, 1 << 20) * 1024 * 1024
    const masters = s3 ? { store: createS3Store(await openS3Bucket(s3), { memoryBytes }), trackKeys: createDirectoryKeyStore(join(dataDir, 'track-keys')) } : undefined
    const server = await startOrigin({
      dataDir,
      ...(masters && { masters }),
      host: values.host ?? '127.0.0.1',
      port: intOption(values.port, 'port', DEFAULT_PORTS.origin, 0, 65535),
      memoryBytes,
      tokenTtlSec: intOption(values['token-ttl'], 'token-ttl', 3600, 10, 86400 * 7),
      manifestMaxAgeSec: intOption(values['manifest-max-age'], 'manifest-max-age', 10, 0, 86400),
      ...(!values.quiet && { log: (line: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(line)}\n`) }),
    })
    const tracks = (await (masters?.store ?? createStore({ dataDir })).catalog()).length
    announceReady(values.json === true, 'origin', { url: server.url, publicKey: server.keys.publicKey, keyId: server.keys.keyId, tracks })
    if (!values.json) process.stderr.write(`catalog: ${tracks} track(s) in ${s3 ? describeS3Target(s3) : dataDir}\nmanifest public key (for edges and players): ${server.keys.publicKey}\n`)
    await untilSignal()
    await server.close()
    return 0
  },
}

export const commands: Record<string, Command> = { ingest, origin }
