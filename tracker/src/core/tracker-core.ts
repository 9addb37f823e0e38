// The tracker's rules as pure code: frames in, effects out (frames to send, sockets to ping,
// close or authenticate). Clock and randomness are injected; sockets are plain numbers. The `ws`
// server and the Durable Object are adapters that carry these effects out.

import type { TrackerFailureCode, TrackerWarningCode } from '../../../protocol/src/tracker.js'
import { binaryIdToHex, TRACKER_PING, TRACKER_PONG } from '../../../protocol/src/tracker.js'
import type { TrackerOptions } from './options.js'
import { resolveTrackerOptions } from './options.js'
import type { ParsedAnnounce, ParsedAnswer, ParsedScrape } from './parse.js'
import { parseRequest } from './parse.js'
import { shardOf } from './shard.js'
import type { PackedSocketState, SocketState } from './socket-state.js'
import { packSocketState, unpackSocketState } from './socket-state.js'
import type { Membership } from './swarm.js'
import { Swarm } from './swarm.js'

/** Every effect names the socket by id and carries the adapter's handle for it (from open/restore). */
export type TrackerEffect =
  | { type: 'send'; socket: number; handle: unknown; data: string }
  | { type: 'close'; socket: number; handle: unknown; code: number; reason: string }
  | { type: 'ping'; socket: number; handle: unknown }
  /** Verify `token`, then call `verified(socket, ...)` with the outcome. */
  | { type: 'verify'; socket: number; handle: unknown; token: string }

export type AuthOutcome = { ok: true } | { ok: false; code: 'unauthorized' | 'token_expired' | 'forbidden'; message: string }

export interface TrackerCoreOptions extends Partial<TrackerOptions> {
  now?: () => number
  random?: () => number
  /** When set, only info_hashes of this shard are served (one Durable Object or process per shard). */
  shard?: { index: number; count: number }
}

export interface TrackerStats {
  connections: number
  swarms: number
  /** Peers in swarms (a socket in 3 swarms counts 3 times). */
  peers: number
  announces: number
  announcesPerSecond: number
  answers: number
  scrapes: number
  offersRelayed: number
  answersRelayed: number
  rejected: Partial<Record<TrackerFailureCode, number>>
  warnings: Partial<Record<TrackerWarningCode, number>>
}

export interface TrackerCore {
  readonly options: TrackerOptions
  /**
   * A new socket. `token` came with the connection (query string); `network` from the platform;
   * `handle` is the adapter's own socket object, handed back in every effect for this socket.
   */
  open(init?: { token?: string; network?: string; handle?: unknown }): { socket: number; effects: TrackerEffect[] }
  /** One frame: a string for text, bytes for binary. */
  message(socket: number, data: string | ArrayBuffer | ArrayBufferView): TrackerEffect[]
  verified(socket: number, outcome: AuthOutcome): TrackerEffect[]
  /** The socket showed life without a message (a pong, or a runtime-answered ping at `at`, ms). */
  pong(socket: number, at?: number): void
  /** The socket is gone (closed by either side); forgets it. */
  close(socket: number): void
  /** Keep-alive and idle sweep; call every few seconds. */
  tick(): TrackerEffect[]
  /** A socket's state in a compact, structured-clone-friendly form (Durable Object attachments). */
  pack(socket: number): PackedSocketState | undefined
  /**
   * Rebuilds sockets and swarms from packed states (after Durable Object hibernation). Returns
   * each socket's id, or undefined where the saved value was not a packed state.
   */
  restore(saved: Array<{ packed: unknown; handle: unknown }>): Array<number | undefined>
  /** The handles of every open socket (to close them all on shutdown). */
  handles(): unknown[]
  stats(): TrackerStats
}

/**
 * Close codes, all in the application range (4000-4999) so that every runtime accepts them
 * (browsers and workerd refuse 1008/1009 from script); the low digits echo HTTP statuses.
 */
const CLOSE_CODE: Partial<Record<TrackerFailureCode, number>> = {
  message_too_large: 4413,
  unauthorized: 4401,
  token_expired: 4401,
  forbidden: 4403,
  rate_limited: 4429,
  too_many_connections: 4503,
  idle_timeout: 4408,
}
const CLOSE_POLICY = 4400

/** Frames kept while a token is being verified; more than this on one socket is abuse. */
const MAX_PENDING = 16


export function createTrackerCore(coreOptions: TrackerCoreOptions = {}): TrackerCore {
  const { now = Date.now, random = Math.random, shard, ...limits } = coreOptions
  const options = resolveTrackerOptions(limits)
  if (shard !== undefined && !(Number.isSafeInteger(shard.count) && shard.count > 0 && shard.index >= 0 && shard.index < shard.count)) {
    throw new TypeError('shard must be { index, count } with 0 <= index < count')
  }
  const swarmCaps = { holders: options.swarmHolders, seekers: options.swarmSeekers }
  /** Socket times are kept relative to this, as small integers (see SocketState). */
  const epoch = now()
  const clock = () => now() - epoch

  const sockets = new Map<number, SocketState>()
  const swarms = new Map<string, Swarm>()
  /** Frames waiting for a token check, per socket. */
  const pending = new Map<number, string[]>()
  let nextSocket = 1
  let seq = 0

  const counters = { announces: 0, answers: 0, scrapes: 0, offersRelayed: 0, answersRelayed: 0 }
  const rejected: Partial<Record<TrackerFailureCode, number>> = {}
  const warnings: Partial<Record<TrackerWarningCode, number>> = {}
  let second = 0
  let announcesThisSecond = 0
  let announcesLastSecond = 0

  function countAnnounce(): void {
    counters.announces++
    const s = Math.floor(now() / 1000)
    if (s !== second) {
      announcesLastSecond = s === second + 1 ? announcesThisSecond : 0
      announcesThisSecond = 0
      second = s
    }
    announcesThisSecond++
  }

  function wire(id: string, hex: boolean): string {
    return hex ? binaryIdToHex(id) : id
  }

  function failure(
    out: TrackerEffect[],
    state: SocketState,
    code: TrackerFailureCode,
    message: string,
    close: boolean,
    echo?: { action?: 'announce' | 'scrape'; infoHashWire?: string },
  ): TrackerEffect[] {
    rejected[code] = (rejected[code] ?? 0) + 1
    const body: Record<string, string> = {}
    if (echo?.action !== undefined) body.action = echo.action
    if (echo?.infoHashWire !== undefined) body.info_hash = echo.infoHashWire
    body['failure reason'] = message
    body.failure_code = code
    out.push({ type: 'send', socket: state.id, handle: state.handle, data: JSON.stringify(body) })
    if (close) {
      forget(state.id)
      // Close reasons are limited to 123 bytes by the WebSocket protocol.
      out.push({ type: 'close', socket: state.id, handle: state.handle, code: CLOSE_CODE[code] ?? CLOSE_POLICY, reason: code })
    }
    return out
  }

  function forget(socket: number): void {
    const state = sockets.get(socket)
    if (state === undefined) return
    sockets.delete(socket)
    pending.delete(socket)
    for (let member = state.first; member !== undefined; member = member.next) {
      const swarm = swarms.get(member.infoHash)
      if (swarm !== undefined) {
        swarm.remove(member)
        if (swarm.size === 0) swarms.delete(member.infoHash)
      }
    }
  }

  function open(init: { token?: string; network?: string; handle?: unknown } = {}): { socket: number; effects: TrackerEffect[] } {
    const socket = nextSocket++
    const at = clock()
    const state: SocketState = { id: socket, lastSeen: at, windowStart: at, windowCount: 0, authed: !options.auth, hex: false, network: init.network, first: undefined, handle: init.handle }
    if (sockets.size >= options.maxConnections) {
      return { socket, effects: failure([], state, 'too_many_connections', `the tracker holds ${options.maxConnections} connections already`, true) }
    }
    sockets.set(socket, state)
    if (options.auth && init.token !== undefined) {
      pending.set(socket, [])
      return { socket, effects: [{ type: 'verify', socket, handle: state.handle, token: init.token }] }
    }
    return { socket, effects: [] }
  }

  function message(socket: number, data: string | ArrayBuffer | ArrayBufferView): TrackerEffect[] {
    const state = sockets.get(socket)
    if (state === undefined) return []
    const out: TrackerEffect[] = []
    const at = clock()
    state.lastSeen = at
    if (at - state.windowStart >= 1000) {
      state.windowStart = at
      state.windowCount = 0
    }
    if (++state.windowCount > options.maxAnnouncesPerSecond) {
      return failure(out, state, 'rate_limited', `more than ${options.maxAnnouncesPerSecond} messages in one second`, true)
    }
    const size = typeof data === 'string' ? data.length : data.byteLength
    if (size > options.maxMessageChars) {
      return failure(out, state, 'message_too_large', `message of ${size} exceeds ${options.maxMessageChars}`, true)
    }
    if (typeof data !== 'string') return failure(out, state, 'binary_frame', 'binary frames are not part of the protocol; send JSON text', false)
    if (data === TRACKER_PING) {
      out.push({ type: 'send', socket, handle: state.handle, data: TRACKER_PONG })
      return out
    }
    const queue = pending.get(socket)
    if (queue !== undefined) {
      if (queue.length >= MAX_PENDING) return failure(out, state, 'rate_limited', 'too many messages while the token is checked', true)
      queue.push(data)
      return out
    }
    return handle(state, data, out)
  }

  function handle(state: SocketState, data: string, out: TrackerEffect[]): TrackerEffect[] {
    const request = parseRequest(data)
    if (request.kind === 'refusal') return failure(out, state, request.code, request.message, false, request)
    if (!state.authed) {
      if (request.token === undefined) {
        return failure(out, state, 'unauthorized', 'a session token is required: add ?token= to the URL or `token` to the first message', true)
      }
      pending.set(state.id, [data])
      out.push({ type: 'verify', socket: state.id, handle: state.handle, token: request.token })
      return out
    }
    state.hex = request.hex
    if (request.kind === 'scrape') return scrape(state, request, out)
    if (shard !== undefined && shardOf(request.infoHash, shard.count) !== shard.index) {
      return failure(out, state, 'wrong_shard', `this info_hash belongs to shard ${shardOf(request.infoHash, shard.count)}, connect to /swarm/<info_hash>`, false, { action: 'announce', infoHashWire: request.infoHashWire })
    }
    if (request.network !== undefined) state.network = request.network
    return request.kind === 'answer' ? answer(state, request, out) : announce(state, request, out)
  }

  function findMembership(state: SocketState, infoHash: string, peerId: string): Membership | undefined {
    for (let member = state.first; member !== undefined; member = member.next) {
      if (member.infoHash === infoHash && member.peerId === peerId) return member
    }
    return undefined
  }

  function countMemberships(state: SocketState): number {
    let count = 0
    for (let member = state.first; member !== undefined; member = member.next) count++
    return count
  }

  function unlink(state: SocketState, target: Membership): void {
    if (state.first === target) {
      state.first = target.next
      return
    }
    for (let member = state.first; member !== undefined; member = member.next) {
      if (member.next === target) {
        member.next = target.next
        return
      }
    }
  }

  function announce(state: SocketState, request: ParsedAnnounce, out: TrackerEffect[]): TrackerEffect[] {
    countAnnounce()
    let member = findMembership(state, request.infoHash, request.peerId)
    let swarm = swarms.get(request.infoHash)
    if (request.event === 'stopped') {
      if (member !== undefined) {
        unlink(state, member)
        swarm?.remove(member)
        if (swarm !== undefined && swarm.size === 0) swarms.delete(request.infoHash)
      }
      out.push({ type: 'send', socket: state.id, handle: state.handle, data: reply(request, swarm) })
      return out
    }
    if (member === undefined && countMemberships(state) >= options.maxSwarmsPerSocket) {
      return failure(out, state, 'too_many_swarms', `one socket may be in at most ${options.maxSwarmsPerSocket} swarms`, true, { action: 'announce', infoHashWire: request.infoHashWire })
    }
    if (swarm === undefined) {
      swarm = new Swarm(request.infoHash, swarmCaps)
      swarms.set(request.infoHash, swarm)
    }
    if (member === undefined) {
      // The swarm's own key string, not this message's copy: one string per swarm, not per peer.
      member = { infoHash: swarm.infoHash, peerId: request.peerId, socket: state.id, holder: false, seq: 0, next: state.first }
      state.first = member
    }
    if (request.left === 0 || request.event === 'completed') member.holder = true
    else if (request.left !== null) member.holder = false
    member.seq = ++seq
    swarm.touch(member)
    out.push({ type: 'send', socket: state.id, handle: state.handle, data: reply(request, swarm) })

    const count = Math.min(request.offers.length, options.maxPeersPerAnnounce)
    if (count === 0) return out
    const targets = swarm.pick(request.peerId, count, state.network, networkOf, random)
    for (let i = 0; i < targets.length; i++) {
      const to = sockets.get((targets[i] as Membership).socket)
      if (to === undefined) continue
      const offer = request.offers[i] as ParsedAnnounce['offers'][number]
      out.push({
        type: 'send',
        socket: to.id,
        handle: to.handle,
        data: JSON.stringify({
          action: 'announce',
          info_hash: wire(request.infoHash, to.hex),
          peer_id: wire(request.peerId, to.hex),
          offer: offer.offer,
          offer_id: offer.offerId,
        }),
      })
      counters.offersRelayed++
    }
    return out
  }

  function networkOf(member: Membership): string | undefined {
    return sockets.get(member.socket)?.network
  }

  function reply(request: ParsedAnnounce, swarm: Swarm | undefined): string {
    return JSON.stringify({
      action: 'announce',
      info_hash: request.infoHashWire,
      interval: options.announceIntervalSec,
      complete: swarm?.holders.length ?? 0,
      incomplete: swarm?.seekers.length ?? 0,
    })
  }

  function answer(state: SocketState, request: ParsedAnswer, out: TrackerEffect[]): TrackerEffect[] {
    counters.answers++
    const swarm = swarms.get(request.infoHash)
    if (swarm?.members.get(request.peerId)?.socket !== state.id) {
      return failure(out, state, 'not_in_swarm', 'announce in this swarm before answering offers in it', false, { action: 'announce', infoHashWire: request.infoHashWire })
    }
    const targetMember = swarm.members.get(request.toPeerId)
    const target = targetMember === undefined ? undefined : sockets.get(targetMember.socket)
    if (target === undefined) {
      warnings.peer_not_found = (warnings.peer_not_found ?? 0) + 1
      out.push({
        type: 'send',
        socket: state.id,
        handle: state.handle,
        data: JSON.stringify({ action: 'announce', info_hash: request.infoHashWire, 'warning message': 'no peer with that `to_peer_id` in this swarm', warning_code: 'peer_not_found' }),
      })
      return out
    }
    out.push({
      type: 'send',
      socket: target.id,
      handle: target.handle,
      data: JSON.stringify({
        action: 'announce',
        info_hash: wire(request.infoHash, target.hex),
        peer_id: wire(request.peerId, target.hex),
        answer: request.answer,
        offer_id: request.offerId,
      }),
    })
    counters.answersRelayed++
    return out
  }

  function scrape(state: SocketState, request: ParsedScrape, out: TrackerEffect[]): TrackerEffect[] {
    counters.scrapes++
    if (!options.scrape) return failure(out, state, 'scrape_disabled', 'scrape is turned off on this tracker', false, { action: 'scrape' })
    const files: Record<string, { complete: number; incomplete: number; downloaded: number }> = {}
    for (const [infoHash, wireForm] of request.infoHashes) {
      const swarm = shard === undefined || shardOf(infoHash, shard.count) === shard.index ? swarms.get(infoHash) : undefined
      const complete = swarm?.holders.length ?? 0
      // No download history is kept; the holders are a lower bound, as in bittorrent-tracker.
      files[wireForm] = { complete, incomplete: swarm?.seekers.length ?? 0, downloaded: complete }
    }
    out.push({ type: 'send', socket: state.id, handle: state.handle, data: JSON.stringify({ action: 'scrape', files }) })
    return out
  }

  function verified(socket: number, outcome: AuthOutcome): TrackerEffect[] {
    const state = sockets.get(socket)
    const queue = pending.get(socket)
    if (state === undefined || queue === undefined) return []
    pending.delete(socket)
    const out: TrackerEffect[] = []
    if (!outcome.ok) return failure(out, state, outcome.code, outcome.message, true)
    state.authed = true
    for (const data of queue) {
      if (!sockets.has(socket)) break
      handle(state, data, out)
    }
    return out
  }

  function pong(socket: number, at?: number): void {
    const state = sockets.get(socket)
    const when = at === undefined ? clock() : at - epoch
    if (state !== undefined && when > state.lastSeen) state.lastSeen = when
  }

  function tick(): TrackerEffect[] {
    const out: TrackerEffect[] = []
    const at = clock()
    const idle = options.idleTimeoutMs
    for (const state of sockets.values()) {
      const silent = at - state.lastSeen
      if (silent >= idle) failure(out, state, 'idle_timeout', `no message or pong for ${Math.round(silent / 1000)} s`, true)
      else if (silent >= idle / 2) out.push({ type: 'ping', socket: state.id, handle: state.handle })
    }
    return out
  }

  function restore(saved: Array<{ packed: unknown; handle: unknown }>): Array<number | undefined> {
    const members: Membership[] = []
    const ids = saved.map(({ packed, handle }) => {
      const state = unpackSocketState(packed, epoch, handle)
      if (state === undefined) return undefined
      sockets.set(state.id, state)
      if (state.id >= nextSocket) nextSocket = state.id + 1
      for (let member = state.first; member !== undefined; member = member.next) {
        members.push(member)
        if (member.seq > seq) seq = member.seq
      }
      return state.id
    })
    // Replaying in order of activity rebuilds the same recency lists and peer routes as before.
    members.sort((a, b) => a.seq - b.seq)
    for (const member of members) {
      let swarm = swarms.get(member.infoHash)
      if (swarm === undefined) {
        swarm = new Swarm(member.infoHash, swarmCaps)
        swarms.set(member.infoHash, swarm)
      }
      swarm.touch(member)
    }
    return ids
  }

  function pack(socket: number): PackedSocketState | undefined {
    const state = sockets.get(socket)
    return state === undefined ? undefined : packSocketState(state, epoch)
  }

  function stats(): TrackerStats {
    let members = 0
    for (const swarm of swarms.values()) members += swarm.size
    const current = Math.floor(now() / 1000)
    return {
      connections: sockets.size,
      swarms: swarms.size,
      peers: members,
      ...counters,
      announcesPerSecond: current === second ? announcesLastSecond : current === second + 1 ? announcesThisSecond : 0,
      rejected: { ...rejected },
      warnings: { ...warnings },
    }
  }

  const handles = () => [...sockets.values()].map((state) => state.handle)

  return { options, open, message, verified, pong, close: forget, tick, pack, restore, handles, stats }
}
