// The tracker's rules as pure code: frames in, effects out (frames to send, sockets to ping,
// close or authenticate). Clock and randomness are injected; sockets are plain numbers. The `ws`
// server and the Durable Object are adapters that carry these effects out.

import type { TrackerFailureCode, TrackerWarningCode } from '../../../protocol/index.js'
import { binaryIdToHex, TRACKER_PING, TRACKER_PONG } from '../../../protocol/index.js'
import { addressKey } from './address.js'
import { createBanList } from './bans.js'
import type { ExposureListenerReport, PackedListener } from './exposure.js'
import { createExposure } from './exposure.js'
import type { TrackerOptions } from './options.js'
import { resolveTrackerOptions } from './options.js'
import type { ParsedAnnounce, ParsedAnswer, ParsedRequest, ParsedScrape } from './parse.js'
import { parseRequest } from './parse.js'
import { countOffers, rememberOffer, takeOffer } from './pending-offers.js'
import { sha256, swarmInfoHashBinary } from './sha256.js'
import { shardOf } from './shard.js'
import type { PackedSocketState, SocketState } from './socket-state.js'
import { createSocketState, packSocketState, unpackSocketState } from './socket-state.js'
import type { Membership } from './roster.js'
import { Roster } from './roster.js'

/** Every effect names the socket by id and carries the adapter's handle for it (from open/restore). */
export type TrackerEffect =
  | { type: 'send'; socket: number; handle: unknown; data: string }
  | { type: 'close'; socket: number; handle: unknown; code: number; reason: string }
  | { type: 'ping'; socket: number; handle: unknown }
  /** Verify `token`, then call `verified(socket, ...)` with the outcome. */
  | { type: 'verify'; socket: number; handle: unknown; token: string }

/**
 * A token check's outcome; `sub`, `exp` (seconds since the epoch, as in JWT) and `tracks` (the
 * tracks it covers; absent: every track) from its claims.
 */
export type AuthOutcome = { ok: true; sub?: string; exp?: number; tracks?: readonly string[] } | { ok: false; code: 'unauthorized' | 'token_expired' | 'forbidden'; message: string }

export interface TrackerCoreOptions extends Partial<TrackerOptions> {
  now?: () => number
  random?: () => number
  /** When set, only info_hashes of this shard are served (one Durable Object or process per shard). */
  shard?: { index: number; count: number }
}

/** Sizes of the state that the limits bound: a flood must not grow them past their caps. */
interface TrackerStateSizes {
  /** Offers relayed and not yet answered, over all sockets. */
  pendingOffers: number
  /** Entries the largest pending-offer ring holds room for (at most maxPendingOffersPerSocket). */
  maxPendingOffersPerSocket: number
  /** Frames waiting for a token check, over all sockets. */
  queuedFrames: number
  maxMembershipsPerSocket: number
  /** Client addresses with open sockets. */
  addresses: number
  /** Subjects or addresses with strikes or a ban. */
  bans: number
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
  /** Offers not relayed because their swarm was smaller than minSwarmSize. */
  offersWithheld: number
  /** Pairings (offer relays) not made because a listener had met its limit of peers this hour. */
  pairingsWithheld: number
  /** Peers met per listener (labels are hashes of the subject or address, never the raw value). */
  exposure: ExposureStats
  rejected: Partial<Record<TrackerFailureCode, number>>
  warnings: Partial<Record<TrackerWarningCode, number>>
  state: TrackerStateSizes
}

interface ExposureStats {
  /** 0: no limit (and no per-listener accounting). */
  limit: number
  listeners: number
  atLimit: number
  flagged: number
  top: Array<Omit<ExposureListenerReport, 'key'> & { label: string }>
}

/** Listeners shown one by one in /metrics (the rest are only counted): a bounded number of series. */
export const EXPOSURE_TOP = 20
/** The rolling window of the exposure limit. */
const EXPOSURE_WINDOW_MS = 3_600_000

function listenerHash(key: string, bytes: number): string {
  const digest = sha256(new TextEncoder().encode(`chorus-listener/1 ${key}`))
  let hex = ''
  for (let i = 0; i < bytes; i++) hex += (digest[i] as number).toString(16).padStart(2, '0')
  return hex
}

/**
 * A listener as /metrics names it: 12 hex chars of SHA-256 of its key ("sub:<subject>" with
 * auth, "addr:<address>" without), not the subject or address itself. An operator who wants to
 * know whether a given subject is flagged computes the same hash.
 */
export function listenerLabel(key: string): string {
  return listenerHash(key, 6)
}

/** The tracker's rules as a pure core: frames and socket events in, effects (send, close, verify) out; adapters carry them. */
export interface TrackerCore {
  /** The resolved options, every default filled in. */
  readonly options: TrackerOptions
  /**
   * A new socket. `token` came with the connection (query string); `network` and `address` (the
   * client's IP address) from the platform; `handle` is the adapter's own socket object, handed
   * back in every effect for this socket.
   */
  open(init?: { token?: string; network?: string; address?: string; handle?: unknown; addressFull?: boolean }): { socket: number; effects: TrackerEffect[] }
  /** One frame: a string for text, bytes for binary. */
  message(socket: number, data: string | ArrayBuffer | ArrayBufferView): TrackerEffect[]
  /** The outcome of the token check a `verify` effect asked the adapter for. */
  verified(socket: number, outcome: AuthOutcome): TrackerEffect[]
  /** The socket showed life without a message (a pong, or a runtime-answered ping at `at`, ms). */
  pong(socket: number, at?: number): void
  /** The socket is gone (closed by either side); forgets it. */
  close(socket: number): void
  /** Keep-alive, first-message deadlines, expired tokens, idle sweep; call every few seconds. */
  tick(): TrackerEffect[]
  /** The earliest time (ms, the core's clock) at which tick() has a first-message deadline to enforce. */
  nextDeadline(): number | undefined
  /** A socket's state in a compact, structured-clone-friendly form (Durable Object attachments). */
  pack(socket: number): PackedSocketState | undefined
  /**
   * Rebuilds sockets and swarms from packed states (after Durable Object hibernation). Returns
   * each socket's id, or undefined where the saved value was not a packed state.
   */
  restore(saved: Array<{ packed: unknown; handle: unknown }>): Array<number | undefined>
  /**
   * Listeners whose exposure accounting changed since the last call, by storage key (a hash of
   * the listener): their packed state, or null when forgotten. A Durable Object writes them to
   * storage, so that hibernation or eviction does not reset anyone's limit.
   */
  exposureChanges(): Array<[string, PackedListener | null]>
  /** Loads what exposureChanges() gave before (values of the storage entries). */
  restoreExposure(saved: unknown[]): void
  /** The handles of every open socket (to close them all on shutdown). */
  handles(): unknown[]
  /** Counters and gauges for /metrics and /healthz. */
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
  banned: 4429,
  too_many_connections: 4503,
  idle_timeout: 4408,
  first_message_timeout: 4408,
}
const CLOSE_POLICY = 4400

/** Closes that count as a strike towards a ban: what an honest, paced client does not do. */
const ABUSE = new Set<TrackerFailureCode>(['rate_limited', 'message_too_large', 'too_many_swarms'])

/** Frames kept while a token is being verified; more than this on one socket is abuse. */
const MAX_PENDING = 16

type Echo = { action?: 'announce' | 'scrape'; infoHashWire?: string }

export function createTrackerCore(coreOptions: TrackerCoreOptions = {}): TrackerCore {
  const { now = Date.now, random = Math.random, shard, ...limits } = coreOptions
  const options = resolveTrackerOptions(limits)
  if (shard !== undefined && !(Number.isSafeInteger(shard.count) && shard.count > 0 && shard.index >= 0 && shard.index < shard.count)) {
    throw new TypeError('shard must be { index, count } with 0 <= index < count')
  }
  const rosterCaps = { holders: options.swarmHolders, seekers: options.swarmSeekers, perAddress: options.maxListedPerAddress }
  /** Socket times are kept relative to this, as small integers (see SocketState). */
  const epoch = now()
  const clock = () => now() - epoch

  const sockets = new Map<number, SocketState>()
  /** The roster of every swarm with a member, by info_hash (binary form). */
  const rosters = new Map<string, Roster>()
  /** Frames waiting for a token check, per socket. */
  const pending = new Map<number, string[]>()
  /** Open sockets per client address key. */
  const perAddress = new Map<string, number>()
  const bans = createBanList({ strikes: options.banStrikes, ms: options.banMs, maxEntries: Math.max(1024, options.maxConnections) })
  let nextSocket = 1
  let seq = 0

  const counters = { announces: 0, answers: 0, scrapes: 0, offersRelayed: 0, answersRelayed: 0, offersWithheld: 0, pairingsWithheld: 0 }
  const exposure =
    options.maxPeersLearnedPerHour > 0 ? createExposure({ limit: options.maxPeersLearnedPerHour, windowMs: EXPOSURE_WINDOW_MS, maxListeners: Math.max(1024, options.maxConnections) }) : undefined
  let lastExposureSweep = 0
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

  function expired(state: SocketState, at: number): boolean {
    return state.exp !== undefined && at >= state.exp
  }

  function echoOf(request: ParsedRequest): Echo {
    return request.kind === 'scrape' ? { action: 'scrape' } : { action: 'announce', infoHashWire: request.infoHashWire }
  }

  function failure(out: TrackerEffect[], state: SocketState, code: TrackerFailureCode, message: string, close: boolean, echo?: Echo): TrackerEffect[] {
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
      if (ABUSE.has(code)) strike(state, out)
    }
    return out
  }

  /** Bans are keyed by the token's subject when auth is on, else by address: never by peer_id. */
  function banKey(state: SocketState): string | undefined {
    if (options.auth) return state.sub === undefined ? undefined : `sub:${state.sub}`
    return state.address === undefined ? undefined : `addr:${state.address}`
  }

  function strike(state: SocketState, out: TrackerEffect[]): void {
    const key = banKey(state)
    if (key === undefined || !bans.strike(key, clock())) return
    // The ban starts now: the same subject's (or address's) other sockets go too.
    for (const other of sockets.values()) {
      if (options.auth ? other.sub === state.sub : other.address === state.address) failure(out, other, 'banned', banMessage(), true)
    }
  }

  function banMessage(): string {
    return `banned for ${Math.round(options.banMs / 1000)} s after ${options.banStrikes} sockets closed for abuse`
  }

  function leaveAll(state: SocketState): void {
    for (let member = state.first; member !== undefined; member = member.next) {
      const roster = rosters.get(member.infoHash)
      if (roster !== undefined) {
        roster.remove(member)
        if (roster.size === 0) rosters.delete(member.infoHash)
      }
    }
    state.first = undefined
  }

  function forget(socket: number): void {
    const state = sockets.get(socket)
    if (state === undefined) return
    sockets.delete(socket)
    pending.delete(socket)
    if (state.address !== undefined) {
      const count = (perAddress.get(state.address) ?? 1) - 1
      if (count > 0) perAddress.set(state.address, count)
      else perAddress.delete(state.address)
    }
    leaveAll(state)
  }

  /** `addressFull`: whoever counts this address over several cores (the cluster's primary) found it at its cap. */
  function open(init: { token?: string; network?: string; address?: string; handle?: unknown; addressFull?: boolean } = {}): { socket: number; effects: TrackerEffect[] } {
    const socket = nextSocket++
    const at = clock()
    const address = addressKey(init.address, options.exemptLoopback)
    const state = createSocketState(socket, at, { authed: !options.auth, network: init.network, address, handle: init.handle })
    if (sockets.size >= options.maxConnections) {
      return { socket, effects: failure([], state, 'too_many_connections', `the tracker holds ${options.maxConnections} connections already`, true) }
    }
    if (address !== undefined) {
      if (!options.auth && bans.banned(`addr:${address}`, at)) return { socket, effects: failure([], state, 'banned', banMessage(), true) }
      const count = perAddress.get(address) ?? 0
      if (count >= options.maxConnectionsPerAddress || init.addressFull === true) {
        return { socket, effects: failure([], state, 'too_many_connections', `${options.maxConnectionsPerAddress} connections from this address already`, true) }
      }
      perAddress.set(address, count + 1)
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
      state.offersSent = 0
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
    return handle(state, data, out, at)
  }

  function handle(state: SocketState, data: string, out: TrackerEffect[], at: number): TrackerEffect[] {
    const request = parseRequest(data)
    if (request.kind === 'refusal') return failure(out, state, request.code, request.message, false, request)
    state.greeted = true
    // Nothing, scrape included, is served to a socket without a valid token when auth is on; a
    // token that expired since is refused at the next request, which may bring a fresh one.
    if (!state.authed || expired(state, at)) {
      if (request.token === undefined) {
        if (!state.authed) {
          return failure(out, state, 'unauthorized', 'a session token is required: add ?token= to the URL or `token` to the first message', true)
        }
        return failure(out, state, 'token_expired', 'session token expired: send a fresh one as `token` in a message', false, echoOf(request))
      }
      pending.set(state.id, [data])
      out.push({ type: 'verify', socket: state.id, handle: state.handle, token: request.token })
      return out
    }
    state.hex = request.hex
    if (request.kind === 'scrape') return scrape(state, request, out)
    if (shard !== undefined && shardOf(request.infoHash, shard.count) !== shard.index) {
      return failure(out, state, 'wrong_shard', `this info_hash belongs to shard ${shardOf(request.infoHash, shard.count)}, connect to /swarm/<info_hash>`, false, echoOf(request))
    }
    if (request.network !== undefined) state.network = request.network
    return request.kind === 'answer' ? answer(state, request, out, at) : announce(state, request, out, at)
  }

  /** This socket's membership in the swarm, whatever its peer id (there is at most one). */
  function membershipIn(state: SocketState, infoHash: string): Membership | undefined {
    for (let member = state.first; member !== undefined; member = member.next) {
      if (member.infoHash === infoHash) return member
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

  function announce(state: SocketState, request: ParsedAnnounce, out: TrackerEffect[], at: number): TrackerEffect[] {
    countAnnounce()
    let roster = rosters.get(request.infoHash)
    // A peer_id is its first socket's until that socket stops or closes: nobody else can take its
    // answers, its offers or its place in the lists, nor stop it.
    const owner = roster?.members.get(request.peerId)
    if (owner !== undefined && owner.socket !== state.id) {
      return failure(out, state, 'peer_id_taken', 'another socket holds this peer_id in this swarm', false, echoOf(request))
    }
    let member = membershipIn(state, request.infoHash)
    if (member !== undefined && member.peerId !== request.peerId) {
      return failure(out, state, 'one_peer_id_per_swarm', 'this socket is in this swarm under another peer_id: one per socket (send stopped for it first)', false, echoOf(request))
    }
    if (request.event === 'stopped') {
      if (member !== undefined) {
        unlink(state, member)
        roster?.remove(member)
        if (roster !== undefined && roster.size === 0) rosters.delete(request.infoHash)
      }
      out.push({ type: 'send', socket: state.id, handle: state.handle, data: reply(request, roster) })
      return out
    }
    const scope = trackScope(state, request)
    if (scope !== undefined) return failure(out, state, scope.code, scope.message, false, echoOf(request))
    const count = Math.min(request.offers.length, options.maxPeersPerAnnounce)
    if (count > 0 && state.offersSent + count > options.maxOffersPerSecond) {
      return failure(out, state, 'too_many_offers', `more than ${options.maxOffersPerSecond} offers in one second`, false, echoOf(request))
    }
    if (member === undefined && countMemberships(state) >= options.maxSwarmsPerSocket) {
      return failure(out, state, 'too_many_swarms', `one socket may be in at most ${options.maxSwarmsPerSocket} swarms`, true, echoOf(request))
    }
    if (roster === undefined) {
      roster = new Roster(request.infoHash, rosterCaps)
      rosters.set(request.infoHash, roster)
    }
    if (member === undefined) {
      // The swarm's own key string, not this message's copy: one string per swarm, not per peer.
      member = { infoHash: roster.infoHash, peerId: request.peerId, socket: state.id, address: state.address, holder: false, seq: 0, left: -1, next: state.first }
      state.first = member
    }
    // Download progress (less left than last time, or completed) is what the exposure report
    // weighs the peers a listener met against.
    const me = exposure === undefined ? undefined : banKey(state)
    if (me !== undefined && ((request.left !== null && member.left >= 0 && request.left < member.left) || (request.event === 'completed' && member.left !== 0))) {
      ;(exposure as NonNullable<typeof exposure>).progressed(me, roster.infoHash, at)
    }
    if (request.left !== null) member.left = request.left
    if (request.left === 0 || request.event === 'completed') member.holder = true
    else if (request.left !== null) member.holder = false
    member.seq = ++seq
    roster.touch(member)
    out.push({ type: 'send', socket: state.id, handle: state.handle, data: reply(request, roster) })

    if (count === 0) return out
    // In a swarm this small, whoever answers is as good as named: offers wait for more peers.
    if (roster.size < options.minSwarmSize) {
      counters.offersWithheld += count
      return out
    }
    state.offersSent += count
    // Each relayed offer pairs the announcer with its receiver: the receiver sees the offer's
    // addresses, the announcer those of the answer. A pairing goes ahead only while both sides
    // are within their hourly limit of distinct peers (or already know each other).
    let selfLimited = false
    const meAsPeer = me ?? `socket:${state.id}`
    const accept = (target: Membership): boolean => {
      const to = sockets.get(target.socket)
      if (to === undefined || expired(to, at)) return false
      if (exposure === undefined) return true
      const them = banKey(to)
      if ((me === undefined && them === undefined) || me === them) return true
      const themAsPeer = them ?? `socket:${to.id}`
      const verdict = exposure.check(me, meAsPeer, them, themAsPeer, at)
      if (verdict === 'ok') {
        exposure.pair(me, meAsPeer, them, themAsPeer, at)
        return true
      }
      // The announcer at its limit: counted once below, as the offers that found no peer.
      if (verdict === 'first') selfLimited = true
      else {
        counters.pairingsWithheld++
        exposure.withheld(them as string, at, 1)
      }
      return false
    }
    const targets = roster.pick(request.peerId, count, state.network, networkOf, random, accept)
    if (selfLimited && me !== undefined) {
      counters.pairingsWithheld += count - targets.length
      ;(exposure as NonNullable<typeof exposure>).withheld(me, at, count - targets.length)
      warnings.peer_limit = (warnings.peer_limit ?? 0) + 1
      out.push({
        type: 'send',
        socket: state.id,
        handle: state.handle,
        data: JSON.stringify({
          action: 'announce',
          info_hash: request.infoHashWire,
          'warning message': `you met ${options.maxPeersLearnedPerHour} peers in the last hour, the most this tracker introduces: no new peers for now (peers you met already still are)`,
          warning_code: 'peer_limit',
        }),
      })
    }
    for (let i = 0; i < targets.length; i++) {
      const to = sockets.get((targets[i] as Membership).socket) as SocketState
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
      rememberOffer(to, options.maxPendingOffersPerSocket, roster.infoHash, offer.offerId, state.id)
      counters.offersRelayed++
    }
    return out
  }

  /**
   * Track scope: `chorus_track`, when given, must hash to the info_hash; a token with a `tracks`
   * claim must name the track of every swarm it announces in (stopping needs no proof).
   */
  function trackScope(state: SocketState, request: ParsedAnnounce): { code: TrackerFailureCode; message: string } | undefined {
    if (request.event === 'stopped') return undefined
    const track = request.track
    if (track !== undefined && swarmInfoHashBinary(track.id, track.version, track.bitrate) !== request.infoHash) {
      return { code: 'track_mismatch', message: '`chorus_track` is not the track of this info_hash (swarmInfoHash(id, version, bitrate))' }
    }
    if (state.tracks === undefined) return undefined
    if (track === undefined) {
      return { code: 'track_not_covered', message: 'your session token covers some tracks only: name the track with `chorus_track` { id, version, bitrate }' }
    }
    if (!state.tracks.includes(track.id)) return { code: 'track_not_covered', message: 'your session token does not cover this track' }
    return undefined
  }

  function networkOf(member: Membership): string | undefined {
    return sockets.get(member.socket)?.network
  }

  function reply(request: ParsedAnnounce, roster: Roster | undefined): string {
    return JSON.stringify({
      action: 'announce',
      info_hash: request.infoHashWire,
      interval: options.announceIntervalSec,
      complete: roster?.holders.length ?? 0,
      incomplete: roster?.seekers.length ?? 0,
    })
  }

  function answer(state: SocketState, request: ParsedAnswer, out: TrackerEffect[], at: number): TrackerEffect[] {
    counters.answers++
    const roster = rosters.get(request.infoHash)
    const owner = roster?.members.get(request.peerId)
    if (roster === undefined || owner === undefined) {
      return failure(out, state, 'not_in_swarm', 'announce in this swarm before answering offers in it', false, echoOf(request))
    }
    if (owner.socket !== state.id) return failure(out, state, 'peer_id_taken', 'another socket holds this peer_id in this swarm', false, echoOf(request))
    // Only an offer relayed to this socket, in this swarm, by the socket that holds to_peer_id,
    // can be answered, once. Its offerer may have left since: then a warning, as before, but only
    // to a socket that did get such an offer (to others, whether a peer_id is here is no answer).
    const from = roster.members.get(request.toPeerId)?.socket
    if (!takeOffer(state, roster.infoHash, request.offerId, from)) {
      return failure(out, state, 'unknown_offer', 'no offer with this offer_id came to this socket from to_peer_id (or it was answered already)', false, echoOf(request))
    }
    const target = from === undefined ? undefined : sockets.get(from)
    if (target === undefined || expired(target, at)) {
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
    // Counts only, never peers or addresses; with auth on, only to a socket whose token checked out.
    if (!state.authed) return failure(out, state, 'unauthorized', 'a session token is required', true)
    const files: Record<string, { complete: number; incomplete: number; downloaded: number }> = {}
    for (const [infoHash, wireForm] of request.infoHashes) {
      const roster = shard === undefined || shardOf(infoHash, shard.count) === shard.index ? rosters.get(infoHash) : undefined
      const complete = roster?.holders.length ?? 0
      // No download history is kept; the holders are a lower bound, as in bittorrent-tracker.
      files[wireForm] = { complete, incomplete: roster?.seekers.length ?? 0, downloaded: complete }
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
    if (outcome.sub !== undefined) {
      // A fresh token may extend a socket's session, not change whose it is (bans are by subject).
      if (state.sub !== undefined && outcome.sub !== state.sub) {
        return failure(out, state, 'forbidden', 'a fresh token must have the subject of the first one; connect again for another', true)
      }
      state.sub = outcome.sub
      if (bans.banned(`sub:${outcome.sub}`, clock())) return failure(out, state, 'banned', banMessage(), true)
    }
    state.exp = outcome.exp === undefined ? undefined : outcome.exp * 1000 - epoch
    // A fresh token's claim replaces the last one's: a narrower one applies from the next announce.
    state.tracks = outcome.tracks === undefined ? undefined : [...outcome.tracks]
    state.authed = true
    for (const data of queue) {
      if (!sockets.has(socket)) break
      handle(state, data, out, clock())
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
      if (!state.greeted && at - state.openedAt >= options.firstMessageTimeoutMs) {
        failure(out, state, 'first_message_timeout', `no valid request within ${Math.round(options.firstMessageTimeoutMs / 1000)} s of connecting`, true)
        continue
      }
      const silent = at - state.lastSeen
      if (silent >= idle) {
        failure(out, state, 'idle_timeout', `no message or pong for ${Math.round(silent / 1000)} s`, true)
        continue
      }
      if (silent >= idle / 2) out.push({ type: 'ping', socket: state.id, handle: state.handle })
      if (state.first !== undefined && expired(state, at)) {
        // Its token ran out: it leaves its swarms (no offer or answer reaches it) until it sends a fresh one.
        leaveAll(state)
        failure(out, state, 'token_expired', 'session token expired: you left your swarms; send a fresh token as `token` to announce again', false)
      }
    }
    bans.sweep(at)
    // Aged-out introductions free their listeners' memory; once a minute is soon enough.
    if (exposure !== undefined && at - lastExposureSweep >= 60_000) {
      lastExposureSweep = at
      exposure.sweep(at)
    }
    return out
  }

  function nextDeadline(): number | undefined {
    let earliest: number | undefined
    for (const state of sockets.values()) {
      if (!state.greeted && (earliest === undefined || state.openedAt < earliest)) earliest = state.openedAt
    }
    return earliest === undefined ? undefined : earliest + options.firstMessageTimeoutMs + epoch
  }

  function restore(saved: Array<{ packed: unknown; handle: unknown }>): Array<number | undefined> {
    const members: Membership[] = []
    const ids = saved.map(({ packed, handle }) => {
      const state = unpackSocketState(packed, epoch, handle)
      if (state === undefined) return undefined
      sockets.set(state.id, state)
      if (state.address !== undefined) perAddress.set(state.address, (perAddress.get(state.address) ?? 0) + 1)
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
      let roster = rosters.get(member.infoHash)
      if (roster === undefined) {
        roster = new Roster(member.infoHash, rosterCaps)
        rosters.set(member.infoHash, roster)
      }
      roster.touch(member)
    }
    return ids
  }

  function pack(socket: number): PackedSocketState | undefined {
    const state = sockets.get(socket)
    return state === undefined ? undefined : packSocketState(state, epoch)
  }

  function stateSizes(): TrackerStateSizes {
    const sizes: TrackerStateSizes = { pendingOffers: 0, maxPendingOffersPerSocket: 0, queuedFrames: 0, maxMembershipsPerSocket: 0, addresses: perAddress.size, bans: bans.size }
    for (const state of sockets.values()) {
      const offers = countOffers(state.offers)
      sizes.pendingOffers += offers.held
      sizes.maxPendingOffersPerSocket = Math.max(sizes.maxPendingOffersPerSocket, offers.allocated)
      sizes.maxMembershipsPerSocket = Math.max(sizes.maxMembershipsPerSocket, countMemberships(state))
    }
    for (const queue of pending.values()) sizes.queuedFrames += queue.length
    return sizes
  }

  function stats(): TrackerStats {
    let members = 0
    for (const roster of rosters.values()) members += roster.size
    const current = Math.floor(now() / 1000)
    return {
      connections: sockets.size,
      swarms: rosters.size,
      peers: members,
      ...counters,
      announcesPerSecond: current === second ? announcesLastSecond : current === second + 1 ? announcesThisSecond : 0,
      rejected: { ...rejected },
      warnings: { ...warnings },
      state: stateSizes(),
      exposure: exposureStats(),
    }
  }

  function exposureStats(): ExposureStats {
    if (exposure === undefined) return { limit: 0, listeners: 0, atLimit: 0, flagged: 0, top: [] }
    const report = exposure.report(clock(), EXPOSURE_TOP)
    return {
      limit: exposure.limit,
      listeners: report.listeners,
      atLimit: report.atLimit,
      flagged: report.flagged,
      top: report.top.map(({ key, ...rest }) => ({ label: listenerLabel(key), ...rest })),
    }
  }

  function exposureChanges(): Array<[string, PackedListener | null]> {
    if (exposure === undefined) return []
    // Stored under a hash: a subject can be long, and storage keys are limited (2 KiB).
    return exposure.changes(epoch).map(([key, packed]) => [`exposure:${listenerHash(key, 32)}`, packed])
  }

  function restoreExposure(saved: unknown[]): void {
    exposure?.restore(saved, epoch, clock())
  }

  const handles = () => [...sockets.values()].map((state) => state.handle)

  return { options, open, message, verified, pong, close: forget, tick, nextDeadline, pack, restore, exposureChanges, restoreExposure, handles, stats }
}
