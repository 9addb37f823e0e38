import type { Test } from 'tap'
import { type RouteName, type RouteRule, findRoute } from '../protocol/index.js'

/** A route as Hono lists it (`app.routes`). */
export interface AppRoute {
  method: string
  path: string
}

/** A path of each route, to ask both the table and the app (metrics: the origin's and the edge's). */
const SAMPLES: Partial<Record<RouteName, readonly string[]>> = {
  chunk: ['/v1/chunks/song/0abc/96/0'],
  key: ['/v1/tracks/song/key'],
  manifest: ['/v1/tracks/song/manifest', '/v1/tracks/song/versions/0abc/manifest'],
  head: ['/v1/tracks/song/head'],
  catalog: ['/v1/tracks'],
  session: ['/v1/session'],
  keys: ['/v1/keys'],
  admin: ['/v1/admin/track-keys/song/0abc'],
  healthz: ['/healthz'],
  metrics: ['/metrics', '/_chorus/metrics'],
  'origin-key': ['/v1/origin-key'],
  stats: ['/_chorus/stats'],
  purge: ['/_chorus/purge'],
}

const CATCH_ALL = '/*'

function honoPattern(path: string): RegExp {
  const escaped = path.replace(/[.+?^${}()|[\]\\]/g, '\\$&')
  return new RegExp(`^${escaped.replace(/:[^/]+/g, '[^/]+').replace(/\*/g, '.*')}$`)
}

/** A concrete path a Hono route answers: each `:param` and `*` filled in. */
function instance(path: string): string {
  return path.replace(/:[^/]+/g, 'x1').replace(/\*/g, 'a/0')
}

const allows = (rule: RouteRule, method: string) =>
  rule.allow
    .split(',')
    .map((m) => m.trim())
    .includes(method)

/**
 * The routes a server's Hono app registers and its route table (protocol's ORIGIN_ROUTES or
 * EDGE_ROUTES, which make its 404s, 405s and metrics labels) say the same: every handler lies on a
 * path and method of the table, every path and method of the table has a handler, and the app
 * ends with the catch-alls that answer preflights and everything else by the table.
 */
export function routesAgree(t: Test, routes: readonly AppRoute[], table: readonly RouteRule[]): void {
  const own = routes.filter((r) => r.path !== CATCH_ALL)
  for (const r of own) {
    const rule = findRoute(table, instance(r.path))
    t.ok(rule, `${r.method} ${r.path}: a path of the table`)
    if (rule && r.method !== 'ALL') t.ok(allows(rule, r.method), `${r.method} ${r.path}: a method the table allows there (${rule.allow})`)
  }
  for (const rule of table) {
    const samples = (SAMPLES[rule.name] ?? []).filter((p) => rule.pattern.test(p))
    t.ok(samples.length > 0, `${rule.name}: the test knows a path of it`)
    for (const path of samples) {
      for (const method of rule.allow.split(',').map((m) => m.trim())) {
        if (method === 'OPTIONS' || method === 'HEAD') continue // the preflight catch-all; HEAD is GET's in Hono
        const handled = own.some((r) => (r.method === method || r.method === 'ALL') && honoPattern(r.path).test(path))
        t.ok(handled, `${method} ${path}: a handler for the table's ${rule.name}`)
      }
    }
  }
  t.ok(
    routes.some((r) => r.method === 'OPTIONS' && r.path === CATCH_ALL),
    'preflights answered everywhere',
  )
  t.ok(
    routes.some((r) => r.method === 'ALL' && r.path === CATCH_ALL),
    'and anything else by the table (404 or 405)',
  )
}
