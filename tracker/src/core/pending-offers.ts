// Offers relayed to a socket and not yet answered. An answer is relayed only when its offer_id
// was relayed to the answering socket, in the same swarm, by the socket that still holds the
// to_peer_id it names: nobody can answer an offer meant for another peer. Each socket keeps at
// most `capacity` of them in a flat ring (slot 0: where the next entry goes; then 3 slots an
// entry: info_hash, offer_id hash, offerer's socket), the oldest forgotten first and an answered
// one at once (one answer per offer).
//
// The offer_id is kept as a 30-bit hash, not as the string: a string from the parser stored into
// a long-lived ring costs the garbage collector on every relay (the announce path with offers ran
// about 10 % slower in the core), and pins ~40 bytes per pending offer. A forged offer_id passes
// only if its hash equals that of an offer the same offerer really sent this socket in this
// swarm: about 1 in 10^9, with ids the attacker does not choose.

import type { SocketState } from './socket-state.js'

const SLOTS = 3

export function rememberOffer(to: SocketState, capacity: number, infoHash: string, offerId: string, fromSocket: number): void {
  let ring = to.offers
  if (ring === undefined) ring = to.offers = [1]
  const i = ring[0] as number
  ring[i] = infoHash
  ring[i + 1] = hashId(offerId)
  ring[i + 2] = fromSocket
  ring[0] = i + SLOTS > capacity * SLOTS ? 1 : i + SLOTS
}

/**
 * Forgets the offer `offerId` in `infoHash` if `fromSocket` sent it to `state` (any socket when
 * undefined: its offerer has left); whether there was one.
 */
export function takeOffer(state: SocketState, infoHash: string, offerId: string, fromSocket: number | undefined): boolean {
  const ring = state.offers
  if (ring === undefined) return false
  const hash = hashId(offerId)
  for (let i = 1; i < ring.length; i += SLOTS) {
    if (ring[i + 1] === hash && (fromSocket === undefined ? ring[i + 2] !== undefined : ring[i + 2] === fromSocket) && ring[i] === infoHash) {
      ring[i] = ring[i + 1] = ring[i + 2] = undefined
      return true
    }
  }
  return false
}

/** Offers the socket holds now, and entries its ring has room for (its memory). */
export function countOffers(ring: SocketState['offers']): { held: number; allocated: number } {
  if (ring === undefined) return { held: 0, allocated: 0 }
  let held = 0
  for (let i = 2; i < ring.length; i += SLOTS) if (ring[i] !== undefined) held++
  return { held, allocated: Math.floor((ring.length - 1) / SLOTS) }
}

/** FNV-1a over the id's chars, 30 bits: a small integer, stored in the ring without allocation. */
function hashId(id: string): number {
  let hash = 0x811c9dc5
  for (let i = 0; i < id.length; i++) hash = Math.imul(hash ^ id.charCodeAt(i), 0x01000193)
  return hash & 0x3fffffff
}
