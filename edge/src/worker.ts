import { Hono } from 'hono'
import type { Context } from 'hono'
import { PREFLIGHT_HEADERS, ProtocolError, importManifestPublicKey } from '../../protocol/index.js'
import { cacheStatusValue } from './cache-status.js'
import { describeProblems, parseEdgeConfig } from './config.js'
import type { ConfigProblem } from './config.js'
import { type Edge, createEdge, edgeErrorResponse } from './edge.js'
import type { RequestContext, CacheLike } from './types.js'

/**
 * The Cloudflare Worker: routes requests to the edge core (edge.ts) and hands it the runtime's
 * pieces: env vars, caches.default, ctx.waitUntil and fetch. Built once per isolate, at the
 * first request, from the vars and secrets in env; a bad value answers every request with a
 * 500 `config_invalid` naming it, rather than serving with a guess.
 */
type Env = Record<string, unknown>
type Built = { ok: true; edge: Edge } | { ok: false; message: string; problems: ConfigProblem[] }

let memo: { env: Env; fingerprint: string; built: Promise<Built> } | undefined

async function build(env: Env): Promise<Built> {
  const parsed = parseEdgeConfig(env)
  if (!parsed.ok) return { ok: false, message: describeProblems(parsed.problems), problems: parsed.problems }
  let verifier: Awaited<ReturnType<typeof importManifestPublicKey>>
  try {
    verifier = await importManifestPublicKey(parsed.config.originPublicKey)
  } catch (err) {
    const problem = { name: 'ORIGIN_PUBLIC_KEY', message: `ORIGIN_PUBLIC_KEY cannot be imported as an Ed25519 key: ${(err as Error).message}` }
    return { ok: false, message: describeProblems([problem]), problems: [problem] }
  }
  const cache = (caches as unknown as { default: CacheLike }).default
  const onBug = (err: unknown) => console.error('chorus edge: unexpected error', err)
  return { ok: true, edge: createEdge({ config: parsed.config, verifier, cache, fetch: (input, init) => fetch(input, init), onBug }) }
}

function edgeFor(env: Env): Promise<Built> {
  if (memo?.env === env) return memo.built
  // workerd may hand each request a new env object with the same values; rebuild only on a real change.
  const fingerprint = JSON.stringify(Object.entries(env).filter(([, v]) => typeof v !== 'object' || v === null))
  if (memo?.fingerprint === fingerprint) {
    memo.env = env
    return memo.built
  }
  memo = { env, fingerprint, built: build(env) }
  return memo.built
}

type C = Context<{ Bindings: Env }>

/** A configuration the edge cannot run with: its answer lists each problem beside the message. */
class ConfigInvalid extends ProtocolError {
  readonly problems: ConfigProblem[]

  constructor(message: string, problems: ConfigProblem[]) {
    super('config_invalid', message)
    this.problems = problems
  }

  override toJSON() {
    return { ...super.toJSON(), problems: this.problems }
  }
}

async function withEdge(c: C, handler: (edge: Edge, ctx: RequestContext) => Promise<Response>): Promise<Response> {
  const built = await edgeFor(c.env)
  if (!built.ok) return edgeErrorResponse(new ConfigInvalid(built.message, built.problems))
  return handler(built.edge, { waitUntil: (p) => c.executionCtx.waitUntil(p) })
}

const app = new Hono<{ Bindings: Env }>()

// Made by the edge alone: no cache, no upstream (an RFC 9211 member without hit or fwd).
const PREFLIGHT = { ...PREFLIGHT_HEADERS, 'cache-status': cacheStatusValue({ detail: 'generated' }) }

app.options('*', () => new Response(null, { status: 204, headers: PREFLIGHT }))
app.get('/v1/chunks/*', (c) => withEdge(c, (edge, ctx) => edge.chunk(c.req.raw, c.req.path, ctx)))
app.get('/v1/tracks', (c) => withEdge(c, (edge) => edge.catalog(c.req.raw)))
app.get('/v1/tracks/:id/manifest', (c) => withEdge(c, (edge, ctx) => edge.manifest(c.req.raw, c.req.param('id'), undefined, ctx)))
app.get('/v1/tracks/:id/head', (c) => withEdge(c, (edge, ctx) => edge.head(c.req.raw, c.req.param('id'), c.req.query('kbps'), ctx)))
app.get('/v1/tracks/:id/versions/:version/manifest', (c) => withEdge(c, (edge, ctx) => edge.manifest(c.req.raw, c.req.param('id'), c.req.param('version'), ctx)))
// Keys and the sessions that fetch them never go through an edge, whatever the method.
app.all('/v1/session', (c) => withEdge(c, (edge) => edge.notAtEdge(c.req.raw, c.req.path)))
app.all('/v1/keys', (c) => withEdge(c, (edge) => edge.notAtEdge(c.req.raw, c.req.path)))
app.all('/v1/tracks/:id/key', (c) => withEdge(c, (edge) => edge.notAtEdge(c.req.raw, c.req.path)))
app.get('/v1/origin-key', (c) => withEdge(c, (edge) => edge.originKey()))
app.get('/healthz', (c) => withEdge(c, (edge) => edge.health()))
app.get('/_chorus/stats', (c) => withEdge(c, (edge) => edge.stats(c.req.raw)))
app.get('/_chorus/metrics', (c) => withEdge(c, (edge) => edge.metrics(c.req.raw)))
app.post('/_chorus/purge', (c) => withEdge(c, (edge, ctx) => edge.purge(c.req.raw, ctx)))
// Any other method or path: a 405 or a 404 by protocol's EDGE_ROUTES.
app.all('*', (c) => withEdge(c, (edge) => edge.unrouted(c.req.raw, c.req.path)))
// Only a bug reaches here: the edge's handlers turn every failure they know into an answer.
app.onError((err) => {
  console.error('chorus edge: unexpected error', err)
  return edgeErrorResponse(err)
})

export default app
