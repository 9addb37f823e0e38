import { readFile, rename, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import { type Supervised, freePort, supervise } from '../support/process.js'

const WRANGLER_BIN = new URL('../node_modules/wrangler/bin/wrangler.js', import.meta.url).pathname

export interface WranglerDevOptions {
  /** What errors and exit reasons call it. */
  name: string
  /** A wrangler.toml; wrangler runs in its directory, where `main` is relative to. */
  config: string
  host: string
  port: number
  /** Secrets and variables on top of [vars] (0600, see writeEnvFile): never on the command line. */
  envFile: string
  /** Local state: R2 objects, Durable Object storage, the Cache API. */
  persistTo: string
  env: NodeJS.ProcessEnv
}

/**
 * `wrangler dev` of one Worker under the supervisor. wrangler runs workerd as its children, so it
 * leads a process group of its own and a stop signals the group: no workerd is left behind.
 */
export async function wranglerDev(o: WranglerDevOptions): Promise<{ process: Supervised; url: string }> {
  // Every wrangler dev opens a devtools inspector, by default on one fixed port: two at once need their own.
  const inspectorPort = await freePort('127.0.0.1')
  const args = [
    WRANGLER_BIN,
    'dev',
    '--config',
    o.config,
    '--ip',
    o.host,
    '--port',
    String(o.port),
    '--inspector-port',
    String(inspectorPort),
    '--env-file',
    o.envFile,
    '--persist-to',
    o.persistTo,
    '--log-level',
    'error',
    '--show-interactive-dev-session=false',
  ]
  const child = supervise({
    name: o.name,
    args,
    cwd: dirname(o.config),
    // CI: no prompts; no metrics sent from a local run.
    env: { ...o.env, WRANGLER_SEND_METRICS: 'false', CI: '1' },
    group: true,
  })
  return { process: child, url: `http://${o.host.includes(':') ? `[${o.host}]` : o.host}:${o.port}` }
}

/** Ready once GET /healthz answers 200 with `{ ok: true }`; `body` then holds the answer. */
export function healthz(url: string): { probe: () => Promise<boolean>; body: Record<string, unknown> } {
  const state = {
    body: {} as Record<string, unknown>,
    probe: async () => {
      const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2000) }).catch(() => undefined)
      const body = (await res?.json().catch(() => undefined)) as Record<string, unknown> | undefined
      if (res?.status !== 200 || body?.ok !== true) return false
      state.body = body
      return true
    },
  }
  return state
}

/**
 * A dotenv file for `wrangler dev --env-file`, written whole (beside, then renamed) with mode
 * 0600 from the first byte: secrets in it are never readable by others, nor half written.
 */
export async function writeEnvFile(path: string, vars: Record<string, string>): Promise<void> {
  const text = `${Object.entries(vars)
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
    .join('\n')}\n`
  const tmp = `${path}.tmp-${process.pid}`
  await writeFile(tmp, text, { mode: 0o600 })
  await rename(tmp, path)
}

/** What writeEnvFile wrote (an absent file: nothing). */
export async function readEnvFile(path: string): Promise<Record<string, string>> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {}
    throw err
  }
  const out: Record<string, string> = {}
  for (const line of text.split('\n')) {
    const m = /^([A-Z0-9_]+)=(".*")$/.exec(line.trim())
    if (m) out[m[1]!] = JSON.parse(m[2]!) as string
  }
  return out
}
