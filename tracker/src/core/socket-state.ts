// Everything the tracker knows about one socket. The swarms themselves are derived from these
// states (see TrackerCore.restore), which is what lets a Durable Object hibernate: each socket
// carries its own state as an attachment, and waking up rebuilds the swarms from them.

import type { Membership } from './swarm.js'

/**
 * Times are ms relative to the core's epoch (its clock at creation) so that they stay small
 * integers: V8 then stores them in the object itself instead of allocating a number per field,
 * and memory per socket is what a tracker has the most of.
 */
export interface SocketState {
  readonly id: number
  /** Last inbound frame or pong. */
  lastSeen: number
  windowStart: number
  windowCount: number
  authed: boolean
  /** Whether the client writes ids in hex; relays to it use the same form. */
  hex: boolean
  /** Region or ASN, declared by the client or given by the adapter. */
  network: string | undefined
  /** Memberships, linked through Membership.next. */
  first: Membership | undefined
  /** The adapter's socket object, handed back in effects; never persisted. */
  handle: unknown
}

export function memberships(state: SocketState): Membership[] {
  const list: Membership[] = []
  for (let m = state.first; m !== undefined; m = m.next) list.push(m)
  return list
}

/**
 * Compact, structured-clone-friendly form for Durable Object attachments (2 KiB in the docs of
 * the time): absolute times, ids in their 20-char binary form, a peer id used in several swarms
 * written once. Layout: [1, id, lastSeen, flags, network, windowStart, windowCount, peerIds[],
 * ...(infoHash, peerIndex, holder, seq)].
 */
export type PackedSocketState = [1, number, number, number, string | null, number, number, string[], ...(string | number)[]]

export function packSocketState(state: SocketState, epoch: number): PackedSocketState {
  const peerIds: string[] = []
  const packed: PackedSocketState = [
    1,
    state.id,
    state.lastSeen + epoch,
    (state.authed ? 1 : 0) | (state.hex ? 2 : 0),
    state.network ?? null,
    state.windowStart + epoch,
    state.windowCount,
    peerIds,
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
  if (!Array.isArray(value) || value[0] !== 1 || value.length < 8 || (value.length - 8) % 4 !== 0) return undefined
  const [, id, lastSeen, flags, network, windowStart, windowCount, peerIds] = value as PackedSocketState
  if (![id, lastSeen, flags, windowStart, windowCount].every(Number.isFinite) || !Array.isArray(peerIds)) return undefined
  const state: SocketState = {
    id,
    lastSeen: lastSeen - epoch,
    windowStart: windowStart - epoch,
    windowCount,
    authed: (flags & 1) !== 0,
    hex: (flags & 2) !== 0,
    network: typeof network === 'string' ? network : undefined,
    first: undefined,
    handle,
  }
  for (let i = value.length - 4; i >= 8; i -= 4) {
    const peerId = peerIds[value[i + 1] as number]
    const infoHash = value[i]
    const seq = value[i + 3]
    if (typeof infoHash !== 'string' || typeof peerId !== 'string' || typeof seq !== 'number') return undefined
    state.first = { infoHash, peerId, socket: id, holder: value[i + 2] === 1, seq, next: state.first }
  }
  return state
}
