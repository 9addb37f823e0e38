import { rmSync } from 'node:fs'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { type Command, DEFAULT_PORTS, UsageError, announceReady, intOption, parseCommandArgs, untilSignal } from '../../support/command.js'
import { freePort, supervise } from '../../support/process.js'
import { CONFIG_VARS, type EdgeConfig, describeProblems, parseEdgeConfig } from './config.js'
import { DEFAULT_WRANGLER_CONFIG, readWranglerAssetsDir, readWranglerVars } from './wrangler-vars.js'

const WRANGLER_BIN = new URL('../../node_modules/wrangler/bin/wrangler.js', import.meta.url).pathname
const VAR_NAMES = new Set(CONFIG_VARS.map((v) => v.name))
const READY_TIMEOUT_MS = 60_000

/** `--var NAME=VALUE` flags; only the edge's own variables, so a typo is an error, not a silent no-op. */
function parseVarFlags(flags: string[]): Record<string, string> {
  const out: Record<string, string> = {}
  for (const flag of flags) {
    const eq = flag.indexOf('=')
    const name = eq > 0 ? flag.slice(0, eq) : ''
    if (!VAR_NAMES.has(name)) throw new UsageError(`--var ${flag.slice(0, 60)}: expected NAME=VALUE with NAME one of ${[...VAR_NAMES].join(', ')}`)
    out[name] = flag.slice(eq + 1)
  }
  return out
}

async function fetchPublicKey(originUrl: string): Promise<string> {
  let res: Response
  try {
    res = await fetch(`${originUrl}/v1/origin-key`, { signal: AbortSignal.timeout(10_000) })
  } catch (err) {
    throw new Error(`cannot reach the origin at ${originUrl} to read its public key (${(err as Error).message}); start it, or pass --public-key`)
  }
  const body = (await res.json().catch(() => ({}))) as { publicKey?: unknown }
  if (!res.ok || typeof body.publicKey !== 'string') throw new Error(`${originUrl}/v1/origin-key did not give a public key (status ${res.status}); pass --public-key`)
  return body.publicKey
}

/** A dotenv file wrangler reads with --env-file: values stay out of the process list. */
function dotenv(vars: Record<string, string>): string {
  return `${Object.entries(vars)
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
    .join('\n')}\n`
}

/** Ready once /healthz says ok; an edge that answers with a config error will not get there. */
function serving(url: string): { probe: () => Promise<boolean> } {
  return {
    probe: async () => {
      try {
        const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2000) })
        const body = (await res.json().catch(() => undefined)) as { ok?: boolean; error?: { message?: string } } | undefined
        if (res.ok && body?.ok) return true
        if (body?.error?.message) throw new Error(body.error.message)
      } catch (err) {
        if (err instanceof Error && err.message.startsWith('invalid edge configuration')) throw err
      }
      return false
    },
  }
}

function summary(config: EdgeConfig): Record<string, unknown> {
  return {
    // The operator's own terminal: where misses go is shown here, never over HTTP.
    origin: config.originUrl,
    upstream: config.upstream,
    policy: config.memoryPolicy,
    memoryMb: config.memoryCacheBytes / 1024 / 1024,
    admitAfter: config.admitAfter,
    readAhead: config.readAhead,
    requireToken: config.requireToken,
  }
}

const edge: Command = {
  summary: 'run the edge Worker locally in workerd (wrangler dev) in front of an origin',
  help: `Usage: chorus edge --origin URL [options]
       chorus edge --check [options]

Runs the edge Cloudflare Worker (edge/src/worker.ts, configured by wrangler.toml) in workerd,
the real Workers runtime, through \`wrangler dev\`, in front of the origin at URL. Its config is
wrangler.toml [vars] with the flags below on top. See edge/README.md for every variable.

Options:
  --origin URL        the origin (sets ORIGIN_URL)
  --public-key B64    the origin's Ed25519 public key (sets ORIGIN_PUBLIC_KEY; default: read
                      from ORIGIN/v1/origin-key at start)
  --var NAME=VALUE    set any edge variable, for example --var MEMORY_POLICY=lru (repeatable)
  env CHORUS_OPERATOR_TOKEN    the operator token (OPERATOR_TOKEN) for /_chorus/stats, /metrics
                               and /purge; CHORUS_EDGE_<SECRET> sets any secret (CHORUS_EDGE_PURGE_TOKEN,
                               the older name, still works). From the environment: out of ps
  --config PATH       wrangler config (default: wrangler.toml at the repository root)
  --host HOST         address to listen on (default: 127.0.0.1)
  --port PORT         port (default: ${DEFAULT_PORTS.edge}; 0 = a free port)
  --persist DIR       keep the local Cache API here across runs (default: a fresh temp dir)
  --check             validate the config and exit: 0 when good, 1 naming each bad value
  --json              print one JSON line once the edge answers (or the --check result)
  -h, --help          this help
`,
  async run(argv) {
    const { values } = parseCommandArgs(argv, {
      origin: { type: 'string' },
      'public-key': { type: 'string' },
      var: { type: 'string', multiple: true },
      config: { type: 'string' },
      host: { type: 'string' },
      port: { type: 'string' },
      persist: { type: 'string' },
      check: { type: 'boolean' },
      json: { type: 'boolean' },
    })
    const json = values.json === true
    const configPath = values.config ?? DEFAULT_WRANGLER_CONFIG
    const fileVars = await readWranglerVars(configPath).catch((err: Error) => {
      throw new UsageError(`cannot read ${configPath}: ${err.message}`)
    })
    const vars: Record<string, unknown> = { ...fileVars, ...parseVarFlags(values.var ?? []) }
    if (values.origin !== undefined) vars.ORIGIN_URL = values.origin
    if (values['public-key'] !== undefined) vars.ORIGIN_PUBLIC_KEY = values['public-key']
    // Secrets come from the environment (CHORUS_EDGE_PURGE_TOKEN, ...): a --var shows in `ps`.
    for (const v of CONFIG_VARS) {
      const fromEnv = v.secret ? process.env[`CHORUS_EDGE_${v.name}`] : undefined
      if (fromEnv) vars[v.name] = fromEnv
    }
    // The name the origin and the tracker read too, so one variable protects every part.
    if (process.env.CHORUS_OPERATOR_TOKEN) vars.OPERATOR_TOKEN = process.env.CHORUS_OPERATOR_TOKEN

    if (values.check) {
      const result = parseEdgeConfig(vars, { publicKeyOptional: true })
      if (!result.ok) {
        if (json) process.stdout.write(`${JSON.stringify({ ok: false, problems: result.problems })}\n`)
        for (const p of result.problems) process.stderr.write(`chorus edge: ${p.message}\n`)
        return 1
      }
      const keyNote =
        result.config.originPublicKey === '' ? `ORIGIN_PUBLIC_KEY unset: \`chorus edge\` reads it from ${result.config.originUrl}/v1/origin-key at start; a deployed Worker needs it set` : undefined
      if (json) process.stdout.write(`${JSON.stringify({ ok: true, config: summary(result.config), ...(keyNote && { note: keyNote }) })}\n`)
      else process.stderr.write(`edge config in ${configPath} is valid: ${JSON.stringify(summary(result.config))}${keyNote ? `\nnote: ${keyNote}` : ''}\n`)
      return 0
    }

    const early = parseEdgeConfig(vars, { publicKeyOptional: true })
    if (!early.ok) throw new Error(describeProblems(early.problems))
    if (early.config.originPublicKey === '') vars.ORIGIN_PUBLIC_KEY = await fetchPublicKey(early.config.originUrl)
    const parsed = parseEdgeConfig(vars)
    if (!parsed.ok) throw new Error(describeProblems(parsed.problems))

    const host = values.host ?? '127.0.0.1'
    const askedPort = intOption(values.port, 'port', DEFAULT_PORTS.edge, 0, 65535)
    const work = await mkdtemp(join(tmpdir(), 'chorus-edge-'))
    const envFile = join(work, 'edge.env')
    const stringVars = Object.fromEntries(
      Object.entries(vars)
        .filter(([k, v]) => VAR_NAMES.has(k) && v !== undefined && v !== null)
        .map(([k, v]) => [k, String(v)]),
    )
    await writeFile(envFile, dotenv(stringVars), { mode: 0o600 })

    const assets = await readWranglerAssetsDir(configPath)
    if (assets) await mkdir(assets, { recursive: true })

    const cleanUp = () => rmSync(work, { recursive: true, force: true })
    process.once('exit', cleanUp)
    // wrangler must be told its port, so a free one is picked first (port 0); another process may
    // bind it in between, and then wrangler exits "Address already in use": a new port, up to 3 times.
    const start = async (port: number) => {
      const args = [
        WRANGLER_BIN,
        'dev',
        '--config',
        configPath,
        '--ip',
        host,
        '--port',
        String(port),
        '--inspector-port',
        String(await freePort('127.0.0.1')),
        '--env-file',
        envFile,
        '--persist-to',
        values.persist ?? join(work, 'state'),
        '--log-level',
        'error',
        '--show-interactive-dev-session=false',
      ]
      // wrangler runs workerd as its own children: the whole group it leads is signalled, and
      // goes however this process ends (the supervisor's exit hook).
      const wrangler = supervise({
        name: 'wrangler dev',
        args,
        cwd: dirname(configPath),
        env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CI: '1' },
        group: true,
        onOutput: (d) => {
          if (!json) process.stderr.write(d)
        },
      })
      const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`
      try {
        await wrangler.ready(serving(url), READY_TIMEOUT_MS)
        return { wrangler, url }
      } catch (err) {
        await wrangler.stop()
        throw Object.assign(err as Error, { portTaken: /address already in use/i.test(wrangler.stderrTail(20)) })
      }
    }
    let started: Awaited<ReturnType<typeof start>> | undefined
    for (let attempt = 1; !started; attempt++) {
      try {
        started = await start(askedPort === 0 ? await freePort(host) : askedPort)
      } catch (err) {
        if (askedPort !== 0 || attempt >= 3 || !(err as { portTaken?: boolean }).portTaken) {
          process.off('exit', cleanUp)
          await rm(work, { recursive: true, force: true })
          throw err
        }
      }
    }
    const { wrangler, url } = started
    try {
      announceReady(json, 'edge', { url, ...summary(parsed.config) })
      const exited = wrangler.exited.then(({ code }) => `wrangler dev exited (code ${code})`)
      const why = await Promise.race([untilSignal(), exited])
      if (why.startsWith('wrangler')) {
        process.stderr.write(`chorus edge: ${why}: ${wrangler.stderrTail(5)}\n`)
        return 1
      }
      return 0
    } finally {
      await wrangler.stop()
      process.off('exit', cleanUp)
      await rm(work, { recursive: true, force: true })
    }
  },
}

export const commands: Record<string, Command> = { edge }
