// The routing Worker: sends each tracker socket to the Durable Object of its swarm's shard.
// Deployed on its own (tracker/wrangler.toml) or mounted by the edge Worker through routeTracker.

import { parseTrackerPath } from './core/route.js'
import { shardOf } from './core/shard.js'
import type { TrackerEnv } from './durable-object.js'
import { ADDRESS_HEADER, NETWORK_HEADER, SHARD_HEADER } from './durable-object.js'
import { OPERATOR_UNAUTHORIZED, operatorAuthorized } from './operator.js'

export { TrackerShard } from './durable-object.js'

interface DurableObjectNamespaceLike {
  idFromName(name: string): unknown
  get(id: unknown): { fetch(request: Request): Promise<Response> }
}

export interface TrackerWorkerEnv extends TrackerEnv {
  TRACKER: DurableObjectNamespaceLike
}

/** /metrics answers pages of any origin (the operator page), as the Node tracker does; the token guards it. */
const CORS = { 'access-control-allow-origin': '*' }

function error(status: number, code: string, message: string): Response {
  return Response.json({ error: { code, message } }, { status })
}

/** Answers tracker paths (/announce, /swarm/<info_hash>, /metrics); null for any other path. */
export async function routeTracker(request: Request, env: TrackerWorkerEnv): Promise<Response | null> {
  const url = new URL(request.url)
  const shards = Number(env.TRACKER_SHARDS ?? '1')
  if (!Number.isSafeInteger(shards) || shards < 1) return error(500, 'config_invalid', 'TRACKER_SHARDS must be a positive integer')
  let index: number
  if (url.pathname === '/metrics') {
    // The operator page may live on another origin: it sends Authorization, so the browser asks first.
    if (request.method === 'OPTIONS') {
      return new Response(null, {
        status: 204,
        headers: { ...CORS, 'access-control-allow-methods': 'GET, HEAD, OPTIONS', 'access-control-allow-headers': 'authorization', 'access-control-max-age': '600' },
      })
    }
    if (!operatorAuthorized(request.headers.get('authorization'), env.CHORUS_OPERATOR_TOKEN)) {
      return new Response(OPERATOR_UNAUTHORIZED.body, { status: OPERATOR_UNAUTHORIZED.status, headers: { ...OPERATOR_UNAUTHORIZED.headers, ...CORS } })
    }
    index = Number(url.searchParams.get('shard') ?? '0')
    if (!Number.isSafeInteger(index) || index < 0 || index >= shards) return error(400, 'bad_request', `shard must be 0 to ${shards - 1}`)
  } else {
    const route = parseTrackerPath(url.pathname)
    if (route === null) return null
    if (route.kind === 'any' && shards > 1) {
      return error(400, 'bad_request', `this tracker has ${shards} shards: connect to /swarm/<info_hash hex>`)
    }
    index = route.kind === 'swarm' ? shardOf(route.infoHash, shards) : 0
  }
  const headers = new Headers(request.headers)
  headers.set(SHARD_HEADER, `${index}/${shards}`)
  const asn = (request as Request & { cf?: { asn?: number } }).cf?.asn
  if (asn !== undefined) headers.set(NETWORK_HEADER, `AS${asn}`)
  else headers.delete(NETWORK_HEADER)
  // Cloudflare sets CF-Connecting-IP itself (a client's own value does not survive); whatever
  // the client sent as ours is dropped.
  const address = request.headers.get('cf-connecting-ip')
  if (address) headers.set(ADDRESS_HEADER, address)
  else headers.delete(ADDRESS_HEADER)
  // The shard count is part of the name: changing it starts fresh objects instead of mixing layouts.
  const stub = env.TRACKER.get(env.TRACKER.idFromName(`shard-${index}-of-${shards}`))
  const response = await stub.fetch(new Request(request, { headers }))
  if (url.pathname !== '/metrics') return response
  const withCors = new Response(response.body, response)
  withCors.headers.set('access-control-allow-origin', CORS['access-control-allow-origin'])
  return withCors
}

export default {
  async fetch(request: Request, env: TrackerWorkerEnv): Promise<Response> {
    const { pathname } = new URL(request.url)
    if (pathname === '/healthz') return Response.json({ ok: true })
    return (await routeTracker(request, env)) ?? error(404, 'not_found', `no route ${pathname}`)
  },
}
