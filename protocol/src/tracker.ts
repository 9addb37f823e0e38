// Wire types of the WebTorrent WebSocket tracker protocol as Chorus speaks it, the swarm
// info_hash derivation, and conversions between the two id forms seen on the wire.
//
// Stock clients (bittorrent-tracker, WebTorrent, p2p-media-loader) send ids as 20-character
// strings whose char codes are the raw bytes (latin1). Chorus code prefers 40-char lowercase hex.
// A tracker accepts both and answers each client in the form it used.

/** An id as it appears on the wire: 20 latin1 chars (raw bytes) or 40 hex chars. */
export type WireId = string

export type AnnounceEvent = 'started' | 'stopped' | 'completed' | 'update' | 'paused'

export interface SessionDescription {
  type: 'offer' | 'answer'
  sdp: string
}

export interface WireOffer {
  offer: SessionDescription & { type: 'offer' }
  offer_id: WireId
}

/** Chorus's optional fields; stock clients leave them out and lose nothing. */
export interface ChorusAnnounceFields {
  /** Where the client is (a region or an ASN, e.g. "AS3320" or "eu-west"); offers prefer peers of the same network. */
  network?: string
  /** Session token (scope "announce") when the tracker requires auth and the URL carried none. */
  token?: string
  /**
   * Which track this swarm is for: the tracker recomputes swarmInfoHash from it and refuses an
   * announce whose info_hash differs (`track_mismatch`) or whose track the session token's
   * `tracks` claim does not list (`track_not_covered`). Required to join a swarm with a token that
   * has a `tracks` claim; without such a claim (or without auth) it is optional, so stock clients
   * keep working there.
   */
  chorus_track?: ChorusTrack
}

/** A swarm's identity, as swarmInfoHash takes it. */
export interface ChorusTrack {
  id: string
  version: string
  bitrate: number
}

export interface AnnounceRequest extends ChorusAnnounceFields {
  action: 'announce'
  info_hash: WireId
  peer_id: WireId
  numwant?: number
  uploaded?: number
  downloaded?: number
  /** Bytes still missing; 0 marks a holder of the whole track. null or absent: unknown. */
  left?: number | null
  event?: AnnounceEvent | ''
  offers?: WireOffer[]
}

/** An answer to a relayed offer; stock clients send it as an announce with these fields. */
export interface AnswerRequest extends ChorusAnnounceFields {
  action: 'announce'
  info_hash: WireId
  peer_id: WireId
  to_peer_id: WireId
  answer: SessionDescription & { type: 'answer' }
  offer_id: WireId
}

export interface ScrapeRequest {
  action: 'scrape'
  info_hash: WireId | WireId[]
  token?: string
}

export type TrackerRequest = AnnounceRequest | AnswerRequest | ScrapeRequest

export interface AnnounceReply {
  action: 'announce'
  info_hash: WireId
  /** Seconds until the next announce. */
  interval: number
  /** Holders (left = 0) the swarm remembers. */
  complete: number
  /** Other peers the swarm remembers. */
  incomplete: number
}

export interface OfferRelay {
  action: 'announce'
  info_hash: WireId
  peer_id: WireId
  offer: SessionDescription
  offer_id: WireId
}

export interface AnswerRelay {
  action: 'announce'
  info_hash: WireId
  peer_id: WireId
  answer: SessionDescription
  offer_id: WireId
}

export interface ScrapeFile {
  complete: number
  incomplete: number
  downloaded: number
}

export interface ScrapeReply {
  action: 'scrape'
  files: Record<WireId, ScrapeFile>
}

export const TRACKER_FAILURE_CODES = [
  'invalid_json',
  'binary_frame',
  'unknown_action',
  'invalid_field',
  'message_too_large',
  'too_many_swarms',
  'rate_limited',
  'too_many_connections',
  'idle_timeout',
  'unauthorized',
  'token_expired',
  'forbidden',
  'scrape_disabled',
  'wrong_shard',
  'not_in_swarm',
  /** The peer_id is held in this swarm by another socket (it is that socket's until it closes or stops). */
  'peer_id_taken',
  /** This socket is already in this swarm under another peer_id (one peer_id per socket per swarm). */
  'one_peer_id_per_swarm',
  /** An answer whose offer_id was not relayed to this socket from to_peer_id (or was answered already). */
  'unknown_offer',
  /** More offers in one second than the tracker relays for one socket. */
  'too_many_offers',
  /** The socket sent no valid request soon enough after connecting. */
  'first_message_timeout',
  /** The subject (with auth) or address (without) was closed for abuse too often; try later. */
  'banned',
  /** `chorus_track` does not hash to the announce's info_hash. */
  'track_mismatch',
  /** The session token's `tracks` claim does not cover this swarm's track (or the announce did not say which track). */
  'track_not_covered',
] as const
export type TrackerFailureCode = (typeof TRACKER_FAILURE_CODES)[number]

/**
 * A refusal. `action` and `info_hash` are echoed when the request had valid ones, because stock
 * clients drop any announce answer whose info_hash is not theirs.
 */
export interface FailureReply {
  action?: 'announce' | 'scrape'
  info_hash?: WireId
  'failure reason': string
  failure_code: TrackerFailureCode
}

/**
 * `peer_limit`: this listener met as many distinct peers in the last hour as the tracker allows;
 * its announce counted, but no new peer is introduced to it until older introductions age out
 * (peers it already met still are). Clients can show it; playback goes on from the servers.
 */
export const TRACKER_WARNING_CODES = ['peer_not_found', 'peer_limit'] as const
export type TrackerWarningCode = (typeof TRACKER_WARNING_CODES)[number]

export interface WarningReply {
  action: 'announce'
  info_hash: WireId
  'warning message': string
  warning_code: TrackerWarningCode
}

export type TrackerReply = AnnounceReply | OfferRelay | AnswerRelay | ScrapeReply | FailureReply | WarningReply

/** Text frames for keep-alive where the server cannot send protocol pings (Durable Objects). */
export const TRACKER_PING = 'ping'
export const TRACKER_PONG = 'pong'

const HEX_ID = /^[0-9a-fA-F]{40}$/

/** True for a 20-char string whose chars are all single bytes. */
export function isBinaryId(value: string): boolean {
  if (value.length !== 20) return false
  for (let i = 0; i < 20; i++) if (value.charCodeAt(i) > 0xff) return false
  return true
}

export function isHexId(value: string): boolean {
  return value.length === 40 && HEX_ID.test(value)
}

export function binaryIdToHex(id: string): string {
  if (!isBinaryId(id)) throw new TypeError('expected a 20-char binary id')
  let hex = ''
  for (let i = 0; i < 20; i++) hex += id.charCodeAt(i).toString(16).padStart(2, '0')
  return hex
}

export function hexIdToBinary(hex: string): string {
  if (!isHexId(hex)) throw new TypeError('expected a 40-char hex id')
  let id = ''
  for (let i = 0; i < 40; i += 2) id += String.fromCharCode(parseInt(hex.slice(i, i + 2), 16))
  return id
}

/** Either wire form to the 20-char binary form, or null when it is neither. */
export function toBinaryId(value: unknown): string | null {
  if (typeof value !== 'string') return null
  if (value.length === 20) return isBinaryId(value) ? value : null
  if (value.length === 40) return isHexId(value) ? hexIdToBinary(value) : null
  return null
}

/** Either wire form to 40-char lowercase hex, or null when it is neither. */
export function toHexId(value: unknown): string | null {
  if (typeof value !== 'string') return null
  if (value.length === 40) return isHexId(value) ? value.toLowerCase() : null
  if (value.length === 20) return isBinaryId(value) ? binaryIdToHex(value) : null
  return null
}

/**
 * The info_hash of the swarm for one (track id, version, quality bitrate): the first 20 bytes of
 * SHA-256 over the UTF-8 bytes of `JSON.stringify(["chorus-swarm/1", trackId, version, bitrate])`,
 * as 40 lowercase hex. JSON quoting makes the input unambiguous whatever characters the ids hold;
 * the leading tag versions the scheme. `bitrate` is the quality's integer bitrate exactly as the
 * manifest states it.
 */
export async function swarmInfoHash(trackId: string, version: string, bitrate: number): Promise<string> {
  if (typeof trackId !== 'string' || trackId === '') throw new TypeError('trackId must be a non-empty string')
  if (typeof version !== 'string' || version === '') throw new TypeError('version must be a non-empty string')
  if (!Number.isSafeInteger(bitrate) || bitrate <= 0) throw new TypeError('bitrate must be a positive integer')
  const input = new TextEncoder().encode(JSON.stringify(['chorus-swarm/1', trackId, version, bitrate]))
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', input))
  let hex = ''
  for (let i = 0; i < 20; i++) hex += (digest[i] as number).toString(16).padStart(2, '0')
  return hex
}
