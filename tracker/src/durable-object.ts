// The Cloudflare adapter: the tracker core in a Durable Object, one object per swarm shard, on the
// WebSocket Hibernation API. Each socket's state rides in its attachment, so an object that
// hibernates (or is evicted) rebuilds the same swarms when it wakes.

import type { TokenVerifier } from './auth.js'
import { createTokenVerifier } from './auth.js'
import { trackerOptionsFromEnv } from './config.js'
import { renderMetrics } from './core/metrics.js'
import type { TrackerCore, TrackerEffect } from './core/tracker-core.js'
import { createTrackerCore } from './core/tracker-core.js'
import { OPERATOR_UNAUTHORIZED, operatorAuthorized } from './operator.js'

/** Storage keys of the listeners' exposure accounting (see TrackerCore.exposureChanges). */
const EXPOSURE_PREFIX = 'exposure:'

/** The Workers runtime types this file uses (kept local: the DOM and Workers type libraries clash). */
export interface HibernatableWebSocket extends WebSocket {
  serializeAttachment(value: unknown): void
  deserializeAttachment(): unknown
}
export interface DurableObjectStateLike {
  acceptWebSocket(ws: WebSocket, tags?: string[]): void
  getWebSockets(tag?: string): HibernatableWebSocket[]
  getTags(ws: WebSocket): string[]
  setWebSocketAutoResponse(pair: unknown): void
  getWebSocketAutoResponseTimestamp(ws: WebSocket): Date | null
  storage: {
    getAlarm(): Promise<number | null>
    setAlarm(at: number): Promise<void>
    put(key: string, value: unknown): Promise<void>
    delete(key: string): Promise<boolean>
    list(options: { prefix: string }): Promise<Map<string, unknown>>
  }
  blockConcurrencyWhile<T>(fn: () => Promise<T>): Promise<T>
}
declare const WebSocketPair: new () => { 0: WebSocket; 1: WebSocket }
declare const WebSocketRequestResponsePair: new (request: string, response: string) => unknown

export interface TrackerEnv {
  /**
   * The origin's public key (base64url), which checks session tokens. Without it every announce is
   * refused, unless TRACKER_AUTH is "false": an open tracker is a choice, never an omission.
   */
  ORIGIN_PUBLIC_KEY?: string
  /** Number of shards; with more than 1, clients connect to /swarm/<info_hash>. */
  TRACKER_SHARDS?: string
  /** When set (`wrangler secret put CHORUS_OPERATOR_TOKEN`), /metrics needs `Authorization: Bearer <it>`. */
  CHORUS_OPERATOR_TOKEN?: string
  [option: string]: unknown
}

/** What a tracker without ORIGIN_PUBLIC_KEY (and not opened on purpose) answers every token. */
const refuseUnconfigured: TokenVerifier = async () => ({
  ok: false,
  code: 'unauthorized',
  message: 'this tracker has no ORIGIN_PUBLIC_KEY to check session tokens with (set it, or TRACKER_AUTH = "false" for an open tracker)',
})

/** Set by the routing Worker: "index/count". */
export const SHARD_HEADER = 'x-chorus-shard'
/** Set by the routing Worker from request.cf (e.g. "AS13335"). */
export const NETWORK_HEADER = 'x-chorus-network'
/** Set by the routing Worker from CF-Connecting-IP: the client address the per-address rules count. */
export const ADDRESS_HEADER = 'x-chorus-address'

export class TrackerShard {
  readonly #ctx: DurableObjectStateLike
  readonly #env: TrackerEnv
  readonly #verify: TokenVerifier | undefined
  #core: TrackerCore | undefined
  readonly #ids = new WeakMap<WebSocket, number>()
  /** Exposure accounting read from storage before the core existed. */
  #savedExposure: unknown[] | undefined

  constructor(ctx: DurableObjectStateLike, env: TrackerEnv) {
    this.#ctx = ctx
    this.#env = env
    // Fail closed: a tracker deployed without the origin's key would tell anyone who asks where
    // listeners are. TRACKER_AUTH = "false" opens it on purpose (a closed network, a benchmark).
    this.#verify = env.ORIGIN_PUBLIC_KEY ? createTokenVerifier(env.ORIGIN_PUBLIC_KEY) : env.TRACKER_AUTH === 'false' ? undefined : refuseUnconfigured
    // Keep-alive without waking the object: the runtime answers "ping" itself.
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair('ping', 'pong'))
    // Who met how many peers this hour lives in storage, not only in memory: hibernation or
    // eviction must not hand anyone a fresh allowance. No event runs before it is loaded.
    void ctx.blockConcurrencyWhile(async () => {
      const saved = [...(await ctx.storage.list({ prefix: EXPOSURE_PREFIX })).values()]
      if (this.#core !== undefined) this.#core.restoreExposure(saved)
      else this.#savedExposure = saved
    })
    const sockets = ctx.getWebSockets()
    const first = sockets[0]
    if (first === undefined) return
    // Woken from hibernation (or evicted and recreated): the sockets carry everything.
    const core = this.#createCore(
      ctx
        .getTags(first)
        .find((tag) => tag.startsWith('shard:'))
        ?.slice(6),
    )
    const ids = core.restore(sockets.map((ws) => ({ packed: ws.deserializeAttachment(), handle: ws })))
    ids.forEach((id, i) => {
      const ws = sockets[i] as HibernatableWebSocket
      if (id === undefined) ws.close(4400, 'lost state')
      else this.#ids.set(ws, id)
    })
  }

  #createCore(shard: string | undefined): TrackerCore {
    const [index, count] = (shard ?? '0/1').split('/').map(Number) as [number, number]
    this.#core = createTrackerCore({
      ...trackerOptionsFromEnv(this.#env),
      auth: this.#verify !== undefined,
      ...(count > 1 ? { shard: { index, count } } : {}),
    })
    if (this.#savedExposure !== undefined) this.#core.restoreExposure(this.#savedExposure)
    this.#savedExposure = undefined
    return this.#core
  }

  /** Writes the listeners whose accounting changed (storage writes are ordered and need no await). */
  #persistExposure(): void {
    for (const [key, value] of this.#core?.exposureChanges() ?? []) {
      if (value === null) void this.#ctx.storage.delete(key)
      else void this.#ctx.storage.put(key, value)
    }
  }

  #idOf(ws: WebSocket): number | undefined {
    const known = this.#ids.get(ws)
    if (known !== undefined) return known
    const packed = (ws as HibernatableWebSocket).deserializeAttachment()
    return Array.isArray(packed) && typeof packed[1] === 'number' ? packed[1] : undefined
  }

  /** Writes the socket's state into its attachment, where it outlives hibernation. */
  #save(id: number, ws: HibernatableWebSocket): void {
    const packed = this.#core?.pack(id)
    if (packed === undefined) return
    try {
      ws.serializeAttachment(packed)
    } catch {
      // Too large for an attachment: the state could not survive hibernation, so the socket goes.
      this.#core?.close(id)
      ws.close(4400, 'too_many_swarms')
    }
  }

  async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url)
    const shard = request.headers.get(SHARD_HEADER) ?? '0/1'
    const core = this.#core ?? this.#createCore(shard)
    if (url.pathname === '/metrics') {
      // The routing Worker checks too; this holds when something else reaches the object.
      if (!operatorAuthorized(request.headers.get('authorization'), this.#env.CHORUS_OPERATOR_TOKEN)) {
        return new Response(OPERATOR_UNAUTHORIZED.body, { status: OPERATOR_UNAUTHORIZED.status, headers: OPERATOR_UNAUTHORIZED.headers })
      }
      return new Response(renderMetrics(core.stats()), { headers: { 'content-type': 'text/plain; version=0.0.4' } })
    }
    if (request.headers.get('upgrade')?.toLowerCase() !== 'websocket') {
      return Response.json({ error: { code: 'bad_request', message: 'this is a WebSocket tracker: connect with a WebSocket' } }, { status: 400 })
    }
    const pair = new WebSocketPair()
    const server = pair[1] as HibernatableWebSocket
    this.#ctx.acceptWebSocket(server, [`shard:${shard}`])
    const opened = core.open({
      token: url.searchParams.get('token') ?? undefined,
      network: request.headers.get(NETWORK_HEADER) ?? undefined,
      address: request.headers.get(ADDRESS_HEADER) ?? undefined,
      handle: server,
    })
    this.#ids.set(server, opened.socket)
    this.#save(opened.socket, server)
    await this.#apply(opened.effects)
    this.#persistExposure()
    // The next sweep, or the new socket's first-message deadline if that comes sooner.
    await this.#wakeBy(Date.now() + Math.min(this.#sweepMs(), core.options.firstMessageTimeoutMs))
    return new Response(null, { status: 101, webSocket: pair[0] } as ResponseInit)
  }

  async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    const id = this.#idOf(ws)
    const core = this.#core
    if (id === undefined || core === undefined) return ws.close(4400, 'unknown socket')
    await this.#apply(core.message(id, message))
    this.#save(id, ws as HibernatableWebSocket)
    this.#persistExposure()
  }

  async webSocketClose(ws: WebSocket, code: number): Promise<void> {
    this.#forget(ws)
    try {
      // Completes the closing handshake the client started.
      ws.close(code === 1005 || code === 1006 ? 1000 : code, 'closed')
    } catch {
      // Already closed.
    }
  }

  async webSocketError(ws: WebSocket): Promise<void> {
    this.#forget(ws)
  }

  /**
   * Every deadline rides on alarms (no timer outlives hibernation): an idle sweep every quarter
   * of the idle timeout (at most 30 s), and an alarm at the earliest first-message deadline while
   * a socket has not spoken yet. Between alarms the object may hibernate.
   */
  async alarm(): Promise<void> {
    const core = this.#core
    if (core === undefined) return
    const sockets = this.#ctx.getWebSockets()
    for (const ws of sockets) {
      const id = this.#idOf(ws)
      const autoPong = this.#ctx.getWebSocketAutoResponseTimestamp(ws)
      if (id !== undefined && autoPong !== null) core.pong(id, autoPong.getTime())
    }
    const effects = core.tick()
    await this.#apply(effects)
    // A socket whose token expired has left its swarms: its attachment must say so too.
    for (const effect of effects) if (effect.type === 'send') this.#save(effect.socket, effect.handle as HibernatableWebSocket)
    this.#persistExposure()
    if (core.stats().connections === 0) return
    const sweep = Date.now() + this.#sweepMs()
    const deadline = core.nextDeadline()
    await this.#ctx.storage.setAlarm(deadline === undefined ? sweep : Math.min(sweep, Math.max(deadline, Date.now() + 50)))
  }

  /** Idle sweeps: a quarter of the idle timeout, at most 30 s (first-message deadlines have alarms of their own). */
  #sweepMs(): number {
    const idle = this.#core?.options.idleTimeoutMs ?? 60_000
    return Math.max(50, Math.min(30_000, Math.floor(idle / 4)))
  }

  async #wakeBy(at: number): Promise<void> {
    const current = await this.#ctx.storage.getAlarm()
    if (current === null || current > at) await this.#ctx.storage.setAlarm(at)
  }

  #forget(ws: WebSocket): void {
    const id = this.#idOf(ws)
    if (id !== undefined) this.#core?.close(id)
  }

  async #apply(effects: TrackerEffect[]): Promise<void> {
    for (const effect of effects) {
      const ws = effect.handle as HibernatableWebSocket
      try {
        switch (effect.type) {
          case 'send':
            ws.send(effect.data)
            break
          case 'close':
            ws.close(effect.code, effect.reason)
            break
          case 'ping':
            // Script cannot send protocol pings here; clients keep alive with "ping" (auto-answered).
            break
          case 'verify': {
            const outcome = this.#verify === undefined ? { ok: true as const } : await this.#verify(effect.token)
            await this.#apply(this.#core?.verified(effect.socket, outcome) ?? [])
            this.#save(effect.socket, ws)
            break
          }
        }
      } catch {
        // The socket went away meanwhile; its close handler cleans up.
      }
    }
  }
}
