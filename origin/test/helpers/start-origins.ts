// "Start an origin" factories for the compliance suite: the Node origin over a directory, and the
// origin Worker over R2 in real workerd (Miniflare, the runtime `wrangler dev` runs). Each hands
// back the publisher that writes into the store it serves, so the suite ingests through the
// origin's own write path and then reads over HTTP.

import { rmSync } from 'node:fs'
import { mkdtemp, readFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import type { Readable } from 'node:stream'
import { dirname, join } from 'node:path'
import { bundleWorkerScript } from '../../../support/worker-bundle.js'
import { Miniflare } from 'miniflare'
import type { Test } from 'tap'
import { loadOriginKeys, type OriginKeys } from '../../src/keys.js'
import { type R2BucketLike, createR2Publisher } from '../../src/r2-store.js'
import { startOrigin } from '../../src/server.js'
import type { MasterPublisher } from '../../src/storage.js'
import { createDirectoryPublisher } from '../../src/store.js'
import { randomBytes } from 'node:crypto'
import { createKeyServiceWriter } from '../../src/key-service-client.js'
import { closeOnce, tempDataDir } from '../../../test-support/fixtures.js'
import { createS3Store } from '../../src/s3-store.js'
import { createDirectoryKeyStore } from '../../src/track-key-dir.js'
import { startS3Server } from './s3-server.js'

export const ROOT = new URL('../../../', import.meta.url).pathname
export const COMPATIBILITY_DATE = '2026-04-01'
export const API_KEY = 'compliance-api-key'
export const OPERATOR_TOKEN = 'compliance-operator-token'

export interface StartedOrigin {
  name: string
  url: string
  /** Holds the signing key (keys/) and, for R2, the track keys (track-keys/). */
  dataDir: string
  keys: OriginKeys
  /** Writes into the store this origin serves. */
  publisher: MasterPublisher
  close(): Promise<void>
}

export interface StartOptions {
  /** The signing key's PKCS#8 (base64url); default: a new one in dataDir. */
  signingKey?: string
}

export type StartOrigin = (t: Test, options?: StartOptions) => Promise<StartedOrigin>

/** The PKCS#8 text of the signing key `loadOriginKeys` made in dataDir. */
export async function signingKeyText(dataDir: string): Promise<string> {
  return (JSON.parse(await readFile(join(dataDir, 'keys', 'signing-key.json'), 'utf8')) as { privateKey: string }).privateKey
}

export const startNodeOrigin: StartOrigin = async (t, options = {}) => {
  const dataDir = await tempDataDir(t, 'chorus-origin-node')
  const env = { CHORUS_API_KEYS: API_KEY, CHORUS_OPERATOR_TOKEN: OPERATOR_TOKEN, ...(options.signingKey && { CHORUS_SIGNING_KEY: options.signingKey }) }
  const keys = await loadOriginKeys(dataDir, env)
  const server = await startOrigin({ dataDir, env })
  const close = closeOnce(t, () => server.close())
  return { name: 'node', url: server.url, dataDir, keys, publisher: createDirectoryPublisher(dataDir), close }
}

/**
 * The Node origin over a bucket on a real S3-compatible server (s3rver), as `chorus origin
 * --masters s3://...` runs it: masters from the bucket, keys from dataDir/track-keys, where the
 * publisher (`chorus ingest --to s3://`'s) puts them.
 */
export const startS3NodeOrigin: StartOrigin = async (t, options = {}) => {
  const dataDir = await tempDataDir(t, 'chorus-origin-s3')
  const env = { CHORUS_API_KEYS: API_KEY, CHORUS_OPERATOR_TOKEN: OPERATOR_TOKEN, ...(options.signingKey && { CHORUS_SIGNING_KEY: options.signingKey }) }
  const keys = await loadOriginKeys(dataDir, env)
  const bucket = (await startS3Server(t, ['chorus-masters'])).bucket('chorus-masters')
  const trackKeys = createDirectoryKeyStore(join(dataDir, 'track-keys'))
  const server = await startOrigin({ dataDir, env, masters: { store: createS3Store(bucket), trackKeys } })
  const close = closeOnce(t, () => server.close())
  return { name: 'node over s3', url: server.url, dataDir, keys, publisher: createR2Publisher(bucket, { trackKeys }), close }
}

let bundled: Promise<string> | undefined

/** origin/worker/worker.ts bundled as wrangler would (esbuild, ESM, the workerd conditions), once per process. */
function bundleOriginWorker(): Promise<string> {
  bundled ??= (async () => {
    const dir = await mkdtemp(join(tmpdir(), 'chorus-origin-worker-'))
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }))
    return bundleWorkerScript(join(ROOT, 'origin/worker/worker.ts'), join(dir, 'worker.js'))
  })()
  return bundled
}

export interface WorkerOrigin extends StartedOrigin {
  mf: Miniflare
  bucket: R2BucketLike
}

export async function startWorkerOriginWith(t: Test, options: StartOptions & { bindings?: Record<string, string>; onRuntimeLog?: (text: string) => void } = {}): Promise<WorkerOrigin> {
  const dataDir = await tempDataDir(t, 'chorus-origin-worker')
  const keys = await loadOriginKeys(dataDir, options.signingKey ? { CHORUS_SIGNING_KEY: options.signingKey } : {})
  const script = await bundleOriginWorker()
  const mf = new Miniflare({
    modules: true,
    scriptPath: script,
    modulesRoot: dirname(script),
    compatibilityDate: COMPATIBILITY_DATE,
    r2Buckets: { MASTERS: 'chorus-masters' },
    durableObjects: { KEYS: { className: 'KeyVault', useSQLite: true } },
    bindings: {
      CHORUS_SIGNING_KEY: options.signingKey ?? (await signingKeyText(dataDir)),
      KEY_WRAPPING_KEY: randomBytes(32).toString('base64url'),
      CHORUS_API_KEYS: API_KEY,
      CHORUS_OPERATOR_TOKEN: OPERATOR_TOKEN,
      ...options.bindings,
    },
    host: '127.0.0.1',
    port: 0,
    ...(options.onRuntimeLog && {
      handleRuntimeStdio(stdout: Readable, stderr: Readable) {
        stdout.on('data', (d: Buffer) => options.onRuntimeLog!(String(d)))
        stderr.on('data', (d: Buffer) => options.onRuntimeLog!(String(d)))
      },
    }),
  })
  const close = closeOnce(t, () => mf.dispose())
  const url = (await mf.ready).href.replace(/\/$/, '')
  // The bucket the Worker reads, reached from Node: publishing goes through the same R2 API, and
  // each version's key to the Worker's key service over HTTP, as `chorus ingest --to r2://` does.
  const bucket = (await mf.getR2Bucket('MASTERS')) as unknown as R2BucketLike
  const publisher = createR2Publisher(bucket, { trackKeys: createKeyServiceWriter({ url, operatorToken: OPERATOR_TOKEN }) })
  return { name: 'worker', url, dataDir, keys, publisher, close, mf, bucket }
}

export const startWorkerOrigin: StartOrigin = (t, options = {}) => startWorkerOriginWith(t, options)
