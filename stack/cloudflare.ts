import { randomBytes } from 'node:crypto'
import { mkdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { buildPlayer } from '../client-sdk/index.js'
import { type LocalR2, createKeyServiceWriter, createR2Publisher, createR2Store, loadOriginKeys, openLocalR2, sweepR2 } from '../origin/index.js'
import { type Supervised, freePort, stopAll } from '../support/process.js'
import { type DemoCatalog, startDemoCatalog } from './demo-catalog.js'
import { CATALOG_STOP_MS, PART_STOP_MS, READY_TIMEOUT_MS, type StartedPart, StackStopped, aborted, edgePurger, readyStack, runOperatorToken, startChorusPart } from './parts.js'
import type { Stack, StackOptions } from './stack.js'
import { healthz, readEnvFile, wranglerDev, writeEnvFile } from './wrangler-dev.js'

const ROOT = new URL('../', import.meta.url).pathname
const ORIGIN_CONFIG = join(ROOT, 'origin/worker/wrangler.toml')
const TRACKER_CONFIG = join(ROOT, 'tracker/wrangler.toml')
/** origin/worker/wrangler.toml's bucket_name: the local bucket the origin Worker reads. */
const BUCKET = 'chorus-masters'

/**
 * What `chorus start --cloudflare` keeps in the data directory, beside the signing key (keys/),
 * which the Node stack shares: the masters are in R2 and the track keys in the key vault's
 * Durable Object, both under `state/`, wrangler's local state; the Workers' secrets are in
 * 0600 env files.
 */
function layout(dataDir: string) {
  const dir = join(dataDir, 'cloudflare')
  return { dir, state: join(dir, 'state'), trackerState: join(dir, 'tracker-state'), originEnv: join(dir, 'origin.env'), trackerEnv: join(dir, 'tracker.env') }
}

/** The signing key's PKCS#8 text, as loadOriginKeys keeps it: what the origin Worker's CHORUS_SIGNING_KEY is. */
async function signingKeyText(dataDir: string): Promise<string> {
  return (JSON.parse(await readFile(join(dataDir, 'keys', 'signing-key.json'), 'utf8')) as { privateKey: string }).privateKey
}

/**
 * The origin Worker's secrets. KEY_WRAPPING_KEY is made once per data directory and kept: the
 * key vault's keys are wrapped under it, and a new one would lose every track's key. The
 * operator token is this run's; the API key is the web player's.
 */
async function originSecrets(dataDir: string, path: string, operatorToken: string, apiKey: string): Promise<Record<string, string>> {
  const kept = await readEnvFile(path)
  return {
    CHORUS_SIGNING_KEY: await signingKeyText(dataDir),
    KEY_WRAPPING_KEY: kept.KEY_WRAPPING_KEY ?? randomBytes(32).toString('base64url'),
    CHORUS_API_KEYS: apiKey,
    CHORUS_OPERATOR_TOKEN: operatorToken,
  }
}

/**
 * Opens the local bucket without Miniflare's signal handling: a Miniflare, once made, answers
 * SIGINT and SIGTERM by exiting the process at once, which would cut `chorus start`'s own stop
 * short (the catalog build stopped between steps, then every part, each reported). Its two
 * signal listeners are taken off again; its 'exit' hook stays, and still ends its workerd
 * however this process ends.
 */
async function openBucket(persistDir: string): Promise<LocalR2> {
  const signals = ['SIGINT', 'SIGTERM'] as const
  const before = new Map(signals.map((s) => [s, new Set(process.listeners(s))]))
  try {
    return await openLocalR2({ persistDir, bucketName: BUCKET })
  } finally {
    for (const s of signals) for (const l of process.listeners(s)) if (!before.get(s)!.has(l)) process.off(s, l)
  }
}

const port = async (host: string, p: number) => (p === 0 ? freePort(host) : p)

/**
 * The whole of Chorus in workerd, no Node server: the origin Worker over local R2 with its key
 * vault Durable Object, the tracker's Durable Object Worker (session tokens required), each
 * through `wrangler dev`, then the edge Worker (`chorus edge`) in front of the origin Worker,
 * serving the web player. On an empty bucket the demo catalog is ingested into it meanwhile,
 * each track's key handed to the origin Worker's key vault, as `chorus ingest --to r2://` does.
 */
export async function startCloudflareStack(o: StackOptions): Promise<Stack> {
  const halt = new AbortController()
  const signal = AbortSignal.any([o.signal, halt.signal])
  const paths = layout(o.dataDir)
  // The signing key exists before the secrets that carry it and the ingest that signs with it.
  const originKeys = await loadOriginKeys(o.dataDir)
  await mkdir(paths.state, { recursive: true, mode: 0o700 })
  await mkdir(paths.trackerState, { recursive: true, mode: 0o700 })

  const operatorToken = runOperatorToken(o.env)
  const env = { ...o.env, CHORUS_OPERATOR_TOKEN: operatorToken, CHORUS_EDGE_PURGE_TOKEN: operatorToken }
  await writeEnvFile(paths.originEnv, await originSecrets(o.dataDir, paths.originEnv, operatorToken, o.apiKey))
  // Auth on: only listeners with a session token from the origin learn peers, offers or swarm sizes.
  await writeEnvFile(paths.trackerEnv, { ORIGIN_PUBLIC_KEY: originKeys.publicKey, CHORUS_OPERATOR_TOKEN: operatorToken })
  const purger = edgePurger(operatorToken)

  const children: Supervised[] = []
  let r2: LocalR2 | undefined
  let catalog: DemoCatalog | undefined
  const stop = async () => {
    halt.abort()
    if (catalog) await Promise.race([catalog.finished, new Promise((r) => setTimeout(r, CATALOG_STOP_MS).unref())])
    await r2?.close().catch(() => undefined)
    r2 = undefined
    await stopAll(children, PART_STOP_MS)
  }
  const stopped = () => {
    if (signal.aborted) throw new StackStopped('stopped before the servers were up')
  }
  const worker = async (name: 'origin' | 'tracker', config: string, p: number, envFile: string, persistTo: string, health: (body: Record<string, unknown>) => string): Promise<StartedPart> => {
    const { process: child, url } = await wranglerDev({ name: `${name} (wrangler dev)`, config, host: o.host, port: await port(o.host, p), envFile, persistTo, env })
    children.push(child)
    const ready = healthz(url)
    await Promise.race([child.ready(ready, READY_TIMEOUT_MS), aborted(signal)])
    return { name, url, health: health(ready.body), ready: ready.body }
  }

  let parts: StartedPart[]
  try {
    const first = await Promise.allSettled([
      worker(
        'origin',
        ORIGIN_CONFIG,
        o.ports.origin,
        paths.originEnv,
        paths.state,
        (b) => `workerd: R2 ${BUCKET} and the key vault (Durable Object); ${b.tracks} tracks, manifest key ${String(b.keyId)}`,
      ),
      worker('tracker', TRACKER_CONFIG, o.ports.tracker, paths.trackerEnv, paths.trackerState, () => 'workerd: Durable Object at /announce (session tokens required)'),
    ])
    stopped()
    const failed = first.find((r): r is PromiseRejectedResult => r.status === 'rejected')
    if (failed) throw failed.reason
    const [origin, tracker] = first.map((r) => (r as PromiseFulfilledResult<StartedPart>).value) as [StartedPart, StartedPart]
    // The catalog goes into the bucket the origin Worker serves (its own key vault takes the
    // keys, so it must be up), while the web player is built and the edge starts.
    const building = (async () => {
      r2 = await openBucket(paths.state)
      // An ingest killed part way left staged objects no index names: they go.
      await sweepR2(r2.bucket)
      const store = createR2Store(r2.bucket, { refreshMs: 0 })
      catalog = await startDemoCatalog({
        dataDir: o.dataDir,
        target: {
          publisher: createR2Publisher(r2.bucket, { trackKeys: createKeyServiceWriter({ url: origin.url, operatorToken }) }),
          catalog: () => store.catalog(),
          markerDir: paths.dir,
          label: `r2://${BUCKET} (${paths.state})`,
        },
        count: o.demo.count,
        ...(o.demo.durationSec !== undefined && { durationSec: o.demo.durationSec }),
        signal,
        elapsed: o.elapsed,
        onEvent: o.onCatalog,
        onNotice: o.onNotice,
        onTrack: (r) => purger.purgeSoon(r.trackId),
      })
      // The bucket stays open while the build runs, and no longer: Miniflare runs a workerd of its own.
      void catalog.finished.then(async () => {
        await r2?.close().catch(() => undefined)
        r2 = undefined
      })
      return catalog
    })()
    const serving = (async () => {
      await buildPlayer({
        tracker: `${tracker.url.replace(/^http/, 'ws')}/announce`,
        origin: origin.url,
        apiKey: o.apiKey,
        publicKey: originKeys.publicKey,
        p2p: o.p2p,
        ...(o.iceServers && { iceServers: o.iceServers }),
      })
      stopped()
      // --name=value: a base64url key may start with '-', which a separate argument would turn into a flag.
      return startChorusPart(
        {
          name: 'edge',
          args: [`--origin=${origin.url}`, `--public-key=${originKeys.publicKey}`, '--host', o.host, '--port', String(o.ports.edge)],
          health: () => 'workerd (wrangler dev): memory, Cache API, origin Worker',
        },
        env,
        children,
        signal,
      )
    })()
    // Both settle before a failure of either goes up: the stop that follows must find what they started.
    const [built, edge] = await Promise.allSettled([building, serving])
    if (built.status === 'rejected') throw built.reason
    if (edge.status === 'rejected') throw edge.reason
    parts = [origin, tracker, edge.value]
  } catch (err) {
    // Startup failed or was stopped: the catalog build and whatever started go, together.
    const bySignal = o.signal.aborted
    await stop()
    throw bySignal ? new StackStopped('stopped before the servers were up') : err
  }

  purger.setEdge(parts[2]!.url)
  return readyStack(o, parts, { operatorToken, catalog: catalog!, children, stop })
}
