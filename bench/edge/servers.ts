import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { build } from 'esbuild'
import { Miniflare } from 'miniflare'
import { ensureDebianPackage } from '../src/machine.js'
import { ROOT } from '../src/process.js'

export interface Running {
  url: string
  stop(): Promise<void>
}

export const COMPATIBILITY_DATE = '2026-04-01'

/**
 * The baseline in the edge's own runtime: a Worker that keeps each chunk it has fetched once in
 * a Map and answers from it with the same headers a cached chunk gets. What the edge adds on
 * top (routing, tiers, stats, Range and ETag logic) is its overhead.
 */
export const TRIVIAL_WORKER = `
const held = new Map()
export default {
  async fetch(request, env) {
    const path = new URL(request.url).pathname
    let hit = held.get(path)
    if (hit === undefined) {
      const res = await fetch(env.ORIGIN_URL + path)
      hit = { bytes: new Uint8Array(await res.arrayBuffer()), etag: res.headers.get('etag') ?? '' }
      held.set(path, hit)
    }
    return new Response(hit.bytes, { headers: { 'content-type': 'application/octet-stream', 'cache-control': 'public, max-age=31536000, immutable', etag: hit.etag, 'accept-ranges': 'bytes' } })
  },
}
`

/** The edge Worker bundled as wrangler bundles it. */
export async function bundleEdge(dir: string): Promise<string> {
  const outfile = join(dir, 'edge-worker.js')
  await build({ entryPoints: [join(ROOT, 'edge/src/worker.ts')], bundle: true, format: 'esm', platform: 'neutral', target: 'es2022', conditions: ['workerd', 'worker', 'browser'], mainFields: ['module', 'main'], outfile, logLevel: 'silent' })
  return outfile
}

/** A Worker under the Miniflare API: workerd with no wrangler proxy in front. */
export async function startMiniflare(scriptPath: string, bindings: Record<string, string>): Promise<Running> {
  const mf = new Miniflare({ modules: true, scriptPath, modulesRoot: dirname(scriptPath), compatibilityDate: COMPATIBILITY_DATE, bindings, host: '127.0.0.1', port: 0, cachePersist: false })
  const url = (await mf.ready).href.replace(/\/$/, '')
  return { url, stop: () => mf.dispose() }
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
}

async function waitForHttp(url: string, child: ChildProcess, log: () => string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`exited (${child.exitCode}) before answering: ${log().slice(-800)}`)
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) })
      await res.arrayBuffer()
      return
    } catch {}
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
  throw new Error(`no answer at ${url}: ${log().slice(-800)}`)
}

function stopGroup(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve()
    child.once('exit', () => resolve())
    try {
      process.kill(-child.pid!, 'SIGTERM')
    } catch {}
    setTimeout(() => {
      try {
        process.kill(-child.pid!, 'SIGKILL')
      } catch {}
    }, 5000).unref()
  })
}

/** A Worker under `wrangler dev`, as `chorus edge` runs it (wrangler's own proxy in front of workerd). */
export async function startWranglerDev(main: string, vars: Record<string, string>, probePath: string): Promise<Running> {
  const dir = await mkdtemp(join(tmpdir(), 'chorus-bench-wrangler-'))
  const config = join(dir, 'wrangler.toml')
  await writeFile(config, `name = "bench"\nmain = ${JSON.stringify(main)}\ncompatibility_date = "${COMPATIBILITY_DATE}"\n`)
  await writeFile(join(dir, 'bench.env'), Object.entries(vars).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join('\n'), { mode: 0o600 })
  const port = await freePort()
  const args = [join(ROOT, 'node_modules/wrangler/bin/wrangler.js'), 'dev', '--config', config, '--ip', '127.0.0.1', '--port', String(port), '--inspector-port', String(await freePort()), '--env-file', join(dir, 'bench.env'), '--persist-to', join(dir, 'state'), '--log-level', 'error', '--show-interactive-dev-session=false']
  const child = spawn(process.execPath, args, { cwd: dir, env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CI: '1' }, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
  let log = ''
  child.stdout!.on('data', (d) => (log = (log + d).slice(-4000)))
  child.stderr!.on('data', (d) => (log = (log + d).slice(-4000)))
  const url = `http://127.0.0.1:${port}`
  try {
    await waitForHttp(`${url}${probePath}`, child, () => log)
  } catch (err) {
    await stopGroup(child)
    await rm(dir, { recursive: true, force: true })
    throw new Error(`wrangler dev ${main}: ${(err as Error).message}`)
  }
  return {
    url,
    stop: async () => {
      await stopGroup(child)
      await rm(dir, { recursive: true, force: true })
    },
  }
}

/** nginx from Debian serving the chunk files, one worker (the others here are one process too). */
export async function startNginx(root: string, workers = 1): Promise<Running> {
  ensureDebianPackage('nginx')
  const dir = await mkdtemp(join(tmpdir(), 'chorus-bench-nginx-'))
  const port = await freePort()
  const conf = join(dir, 'nginx.conf')
  const temp = (name: string) => `${name} ${join(dir, name)};`
  await writeFile(
    conf,
    `worker_processes ${workers};
daemon off;
pid ${join(dir, 'nginx.pid')};
error_log stderr error;
events { worker_connections 4096; }
http {
  access_log off;
  ${['client_body_temp_path', 'proxy_temp_path', 'fastcgi_temp_path', 'uwsgi_temp_path', 'scgi_temp_path'].map(temp).join('\n  ')}
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  open_file_cache max=4096 inactive=60s;
  default_type application/octet-stream;
  etag on;
  server {
    listen 127.0.0.1:${port};
    root ${root};
    location / { add_header cache-control "public, max-age=31536000, immutable"; }
  }
}
`,
  )
  const child = spawn('nginx', ['-c', conf, '-p', dir], { stdio: ['ignore', 'pipe', 'pipe'], detached: true })
  let log = ''
  child.stderr!.on('data', (d) => (log = (log + d).slice(-4000)))
  const url = `http://127.0.0.1:${port}`
  try {
    await waitForHttp(url, child, () => log, 20_000)
  } catch (err) {
    await stopGroup(child)
    throw new Error(`nginx: ${(err as Error).message}`)
  }
  return {
    url,
    stop: async () => {
      await stopGroup(child)
      await rm(dir, { recursive: true, force: true })
    },
  }
}
