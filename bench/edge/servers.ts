import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { bundleWorkerScript } from '../../support/worker-bundle.js'
import { Miniflare } from 'miniflare'
import { ensureDebianPackage } from '../src/machine.js'
import { type Supervised, freePort, startProcess } from '../../support/process.js'
import { ROOT } from '../src/process.js'

export interface Running {
  url: string
  stop(): Promise<void>
}

const COMPATIBILITY_DATE = '2026-04-01'

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
  return bundleWorkerScript(join(ROOT, 'edge/src/worker.ts'), join(dir, 'edge-worker.js'))
}

/** A Worker under the Miniflare API: workerd with no wrangler proxy in front. */
export async function startMiniflare(scriptPath: string, bindings: Record<string, string>): Promise<Running> {
  const mf = new Miniflare({ modules: true, scriptPath, modulesRoot: dirname(scriptPath), compatibilityDate: COMPATIBILITY_DATE, bindings, host: '127.0.0.1', port: 0, cachePersist: false })
  const url = (await mf.ready).href.replace(/\/$/, '')
  return { url, stop: () => mf.dispose() }
}

/** Ready once `url` answers at all (any status): the server is up. */
function answers(url: string): { probe: () => Promise<boolean> } {
  return {
    probe: async () => {
      try {
        await (await fetch(url, { signal: AbortSignal.timeout(2000) })).arrayBuffer()
        return true
      } catch {
        return false
      }
    },
  }
}

/** A Worker under `wrangler dev`, as `chorus edge` runs it (wrangler's own proxy in front of workerd). */
export async function startWranglerDev(main: string, vars: Record<string, string>, probePath: string): Promise<Running> {
  const dir = await mkdtemp(join(tmpdir(), 'chorus-bench-wrangler-'))
  const config = join(dir, 'wrangler.toml')
  await writeFile(config, `name = "bench"\nmain = ${JSON.stringify(main)}\ncompatibility_date = "${COMPATIBILITY_DATE}"\n`)
  await writeFile(
    join(dir, 'bench.env'),
    Object.entries(vars)
      .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
      .join('\n'),
    { mode: 0o600 },
  )
  const port = await freePort()
  const args = [
    join(ROOT, 'node_modules/wrangler/bin/wrangler.js'),
    'dev',
    '--config',
    config,
    '--ip',
    '127.0.0.1',
    '--port',
    String(port),
    '--inspector-port',
    String(await freePort()),
    '--env-file',
    join(dir, 'bench.env'),
    '--persist-to',
    join(dir, 'state'),
    '--log-level',
    'error',
    '--show-interactive-dev-session=false',
  ]
  const url = `http://127.0.0.1:${port}`
  let wrangler: Supervised
  try {
    // wrangler runs workerd as its own child: the group is signalled, not wrangler alone.
    wrangler = await startProcess({ name: `wrangler dev ${main}`, args, cwd: dir, env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CI: '1' }, group: true, ready: answers(`${url}${probePath}`) })
  } catch (err) {
    await rm(dir, { recursive: true, force: true })
    throw err
  }
  return {
    url,
    stop: async () => {
      await wrangler.stop()
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
  const url = `http://127.0.0.1:${port}`
  const nginx = await startProcess({ name: 'nginx', command: 'nginx', args: ['-c', conf, '-p', dir], group: true, ready: answers(url), timeoutMs: 20_000 })
  return {
    url,
    stop: async () => {
      await nginx.stop()
      await rm(dir, { recursive: true, force: true })
    },
  }
}
