import { randomBytes } from 'node:crypto'
import { type Supervised, supervise } from '../support/process.js'
import type { DemoCatalog } from './demo-catalog.js'
import type { Stack, StackOptions, StackPart } from './stack.js'

/** What both stacks (Node and Cloudflare) share: starting a `chorus <part>`, the operator token, the edge purge, a stop under way. */

const CHORUS = new URL('../bin/chorus.js', import.meta.url).pathname
/** wrangler dev's first start bundles the Worker and boots workerd: give a slow machine room. */
export const READY_TIMEOUT_MS = 180_000
/** How long an origin reuses a read of its catalog listing (the Node store's refreshMs, the Worker's CATALOG_REFRESH_MS). */
const ORIGIN_LISTING_MS = 1000
/** How long a stop waits for the catalog build (an encode is killed, a publish under way finishes). */
export const CATALOG_STOP_MS = 15_000
/**
 * How long a part may take to stop before it is killed: longer than the 5 s a part gives its own
 * wrangler dev, since `chorus edge` killed while it still waits on wrangler leaves wrangler (which
 * leads a process group of its own) running.
 */
export const PART_STOP_MS = 12_000

/** Why a start ended early: the caller's signal, not a failure. */
export class StackStopped extends Error {
  override name = 'StackStopped'
}

export function aborted(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    const fail = () => reject(new StackStopped('stopped before the servers were up'))
    if (signal.aborted) fail()
    else signal.addEventListener('abort', fail, { once: true })
  })
}

/**
 * One operator token per run (or the operator's own, from the environment) guards every part's
 * operator endpoints: metrics, edge stats, purge, the key service's admin route. It travels in
 * the environment or a 0600 env file, not on a command line that `ps` shows, and reaches the
 * operator page in a URL fragment, which a browser never sends to a server.
 */
export function runOperatorToken(env: NodeJS.ProcessEnv): string {
  return env.CHORUS_OPERATOR_TOKEN || randomBytes(24).toString('base64url')
}

export interface PartSpec {
  name: StackPart['name']
  args: string[]
  health: (ready: Record<string, unknown>) => string
}

export type StartedPart = StackPart & { ready: Record<string, unknown> }

/** `chorus <part> ... --json` under the supervisor, added to `children` at once (so a stop reaches it), resolved once ready. */
export async function startChorusPart(part: PartSpec, env: NodeJS.ProcessEnv, children: Supervised[], signal: AbortSignal): Promise<StartedPart> {
  const p = supervise({ name: part.name, args: [CHORUS, part.name, ...part.args, '--json'], env })
  children.push(p)
  // A stop (Ctrl-C) does not wait out a part that is still starting.
  const ready = await Promise.race([p.ready('json-line', READY_TIMEOUT_MS), aborted(signal)])
  return { name: part.name, url: ready.url, health: part.health(ready), ready }
}

/**
 * The edge keeps the track list for MANIFEST_TTL_SEC (10 s); each new track is purged from it so
 * that it shows at once. The purge waits out the origin's own reuse of its listing, or the edge
 * would fetch and keep a list from just before the track landed. Nothing happens before the
 * edge's URL is known (the catalog may be faster than the edge's start).
 */
export function edgePurger(operatorToken: string): { setEdge(url: string): void; purgeSoon(trackId: string): void } {
  let edgeUrl: string | undefined
  const purge = async (trackId: string) => {
    if (!edgeUrl) return
    await fetch(`${edgeUrl}/_chorus/purge`, {
      method: 'POST',
      headers: { authorization: `Bearer ${operatorToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ track: trackId }),
      signal: AbortSignal.timeout(5000),
    })
      .then((r) => r.body?.cancel())
      .catch(() => undefined)
  }
  return {
    setEdge: (url) => {
      edgeUrl = url
    },
    purgeSoon: (trackId) => void setTimeout(() => void purge(trackId), ORIGIN_LISTING_MS + 200).unref(),
  }
}

/** The children's exits, as the reason a stack ends when one of them goes by itself. */
function firstExit(children: Supervised[]): Promise<string> {
  return Promise.race(children.map((p) => p.exited.then((e) => `${p.name} exited (code ${e.code})`)))
}

/** The stack as its caller sees it once every part answers; a catalog already complete says so now. */
export function readyStack(o: StackOptions, parts: StartedPart[], run: { operatorToken: string; catalog: DemoCatalog; children: Supervised[]; stop(): Promise<void> }): Stack {
  const url = (name: StackPart['name']) => parts.find((p) => p.name === name)!.url
  const edgeUrl = url('edge')
  if (!run.catalog.building) o.onCatalog({ kind: 'complete', tracks: run.catalog.tracks(), ms: o.elapsed(), built: 0 })
  return {
    urls: {
      player: `${edgeUrl}/`,
      operator: `${edgeUrl}/operator#operator=${run.operatorToken}`,
      origin: url('origin'),
      edge: edgeUrl,
      tracker: `${url('tracker').replace(/^http/, 'ws')}/announce`,
    },
    operatorToken: run.operatorToken,
    parts: parts.map(({ name, url, health }) => ({ name, url, health })),
    catalog: run.catalog,
    exited: firstExit(run.children),
    stop: run.stop,
  }
}
