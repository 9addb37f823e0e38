// Everything the tracker knows about one socket. The swarms themselves are derived from these
// states (see TrackerCore.restore), which is what lets a Durable Object hibernate: each socket
// carries its own state as an attachment, and waking up rebuilds the swarms from them.

import type { Membership } from './roster.js'

/**
 * Times are ms relative to the core's epoch (its clock at creation) so that they stay small
 * integers: V8 then stores them in the object itself instead of allocating a number per field,
 * and memory per socket is what a tracker has the most of.
 */
export interface SocketState {
  readonly id: number
  /** Last inbound frame or pong. */
  lastSeen: number
  /** When it connected: a socket that sends no valid request soon after is closed. */
  openedAt: number
  windowStart: number
  windowCount: number
  /** Offers this socket sent in the current one-second window (see TrackerLimits.maxOffersPerSecond). */
  offersSent: number
  authed: boolean
  /** Whether it has sent a valid request yet (see TrackerLimits.firstMessageTimeoutMs). */
  greeted: boolean
  /** Whether the client writes ids in hex; relays to it use the same form. */
  hex: boolean
  /** Region or ASN, declared by the client or given by the adapter. */
  network: string | undefined
  /** The key the per-address rules count it under (address.ts); undefined: exempt or unknown. */
  address: string | undefined
  /** The subject of its session token, once verified (auth on). */
  sub: string | undefined
  /** When its session token expires (ms, relative like the other times); undefined: never. */
  exp: number | undefined
  /** The tracks its session token covers (the `tracks` claim); undefined: every track. */
  tracks: readonly string[] | undefined
  /** Memberships, linked through Membership.next. */
  first: Membership | undefined
  /** Offers relayed to it and not yet answered (pending-offers.ts), made on its first offer. */
  offers: Array<string | number | undefined> | undefined
  /** The adapter's socket object, handed back in effects; never persisted. */
  handle: unknown
}

export function createSocketState(id: number, at: number, init: { authed: boolean; network: string | undefined; address: string | undefined; handle: unknown }): SocketState {
  return {
    id,
    lastSeen: at,
    openedAt: at,
    windowStart: at,
    windowCount: 0,
    offersSent: 0,
    authed: init.authed,
    greeted: false,
    hex: false,
    network: init.network,
    address: init.address,
    sub: undefined,
    exp: undefined,
    tracks: undefined,
    first: undefined,
    offers: undefined,
    handle: init.handle,
  }
}

function memberships(state: SocketState): Membership[] {
  const list: Membership[] = []
  for (let m = state.first; m !== undefined; m = m.next) list.push(m)
  return list
}

/**
 * Compact, structured-clone-friendly form for Durable Object attachments (2 KiB in the docs of
 * the time): absolute times, ids in their 20-char binary form, a peer id used in several swarms
 * written once. Layout: [3, id, lastSeen, flags, network, windowStart, windowCount, peerIds[],
 * address, sub, exp, openedAt, tracks, ...(infoHash, peerIndex, holder, seq)]. Offers waiting for an
 * answer are not kept: an answer comes within seconds, and an object hibernates only after
 * some seconds without any event. Format 2 (no tracks) is still read: a token without a
 * `tracks` claim, as every token was then.
 */
export type PackedSocketState = [3, number, number, number, string | null, number, number, string[], string | null, string | null, number | null, number, string[] | null, ...(string | number)[]]

export function packSocketState(state: SocketState, epoch: number): PackedSocketState {
  const peerIds: string[] = []
  const packed: PackedSocketState = [
    3,
    state.id,
    state.lastSeen + epoch,
    (state.authed ? 1 : 0) | (state.hex ? 2 : 0) | (state.greeted ? 4 : 0),
    state.network ?? null,
    state.windowStart + epoch,
    state.windowCount,
    peerIds,
    state.address ?? null,
    state.sub ?? null,
    state.exp === undefined ? null : state.exp + epoch,
    state.openedAt + epoch,
    state.tracks === undefined ? null : [...state.tracks],
  ]
  for (const member of memberships(state)) {
    let index = peerIds.indexOf(member.peerId)
    if (index < 0) index = peerIds.push(member.peerId) - 1
    packed.push(member.infoHash, index, member.holder ? 1 : 0, member.seq)
  }
  return packed
}

/** Reverses packSocketState for a core with `epoch`; anything malformed yields undefined. */
export function unpackSocketState(value: unknown, epoch: number, handle: unknown): SocketState | undefined {
  if (!Array.isArray(value) || (value[0] !== 2 && value[0] !== 3)) return undefined
  const HEADER = value[0] === 3 ? 13 : 12
  if (value.length < HEADER || (value.length - HEADER) % 4 !== 0) return undefined
  const [, id, lastSeen, flags, network, windowStart, windowCount, peerIds, address, sub, exp, openedAt] = value as PackedSocketState
  const tracks = HEADER === 13 ? (value[12] as unknown) : null
  if (tracks !== null && !(Array.isArray(tracks) && tracks.every((x) => typeof x === 'string'))) return undefined
  if (![id, lastSeen, flags, windowStart, windowCount, openedAt].every(Number.isFinite) || !Array.isArray(peerIds)) return undefined
  if (exp !== null && !Number.isFinite(exp)) return undefined
  const state = createSocketState(id, lastSeen - epoch, {
    authed: (flags & 1) !== 0,
    network: typeof network === 'string' ? network : undefined,
    address: typeof address === 'string' ? address : undefined,
    handle,
  })
  state.openedAt = openedAt - epoch
  state.windowStart = windowStart - epoch
  state.windowCount = windowCount
  state.hex = (flags & 2) !== 0
  state.greeted = (flags & 4) !== 0
  state.sub = typeof sub === 'string' ? sub : undefined
  state.exp = exp === null ? undefined : exp - epoch
  state.tracks = tracks === null ? undefined : (tracks as string[])
  for (let i = value.length - 4; i >= HEADER; i -= 4) {
    const peerId = peerIds[value[i + 1] as number]
    const infoHash = value[i]
    const seq = value[i + 3]
    if (typeof infoHash !== 'string' || typeof peerId !== 'string' || typeof seq !== 'number') return undefined
    state.first = { infoHash, peerId, socket: id, address: state.address, holder: value[i + 2] === 1, seq, left: -1, next: state.first }
  }
  return state
}
