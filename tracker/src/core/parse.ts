// One text frame in, one typed request or one refusal out. Nothing here trusts the client:
// every field a rule reads is checked for type and shape, unknown fields are ignored.

import type { AnnounceEvent, ChorusTrack, SessionDescription, TrackerFailureCode } from '../../../protocol/index.js'
import { toBinaryId } from '../../../protocol/index.js'

interface ParsedOffer {
  offer: SessionDescription
  /** Relayed verbatim; its shape was checked. */
  offerId: string
}

interface Common {
  /** Binary (20-char) form, the tracker's internal key. */
  infoHash: string
  /** As the client wrote it, echoed back in replies to it. */
  infoHashWire: string
  /** Whether the client writes ids as hex (otherwise as 20-char binary strings). */
  hex: boolean
  token: string | undefined
  network: string | undefined
}

export interface ParsedAnnounce extends Common {
  kind: 'announce'
  peerId: string
  event: AnnounceEvent
  left: number | null
  offers: ParsedOffer[]
  /** Which track the swarm is for (Chorus); its hash is checked against info_hash by the core. */
  track: ChorusTrack | undefined
}

export interface ParsedAnswer extends Common {
  kind: 'answer'
  peerId: string
  toPeerId: string
  offerId: string
  answer: SessionDescription
}

export interface ParsedScrape {
  kind: 'scrape'
  /** Pairs of (binary key, wire form). */
  infoHashes: Array<[string, string]>
  hex: boolean
  token: string | undefined
}

export type ParsedRequest = ParsedAnnounce | ParsedAnswer | ParsedScrape

export interface ParseRefusal {
  kind: 'refusal'
  code: TrackerFailureCode
  message: string
  action?: 'announce' | 'scrape'
  infoHashWire?: string
}

const MAX_OFFERS_IN_MESSAGE = 50
const MAX_NETWORK_CHARS = 64
const MAX_TOKEN_CHARS = 4096
const MAX_SCRAPE_HASHES = 64
/** Track ids and versions are short names (the origin's); the cap keeps a hash input small. */
const MAX_TRACK_ID_CHARS = 256

const NO_OFFERS: ParsedOffer[] = []

const EVENTS: Record<string, AnnounceEvent> = {
  started: 'started',
  stopped: 'stopped',
  completed: 'completed',
  update: 'update',
  paused: 'paused',
  // bittorrent-tracker treats these as a plain update; so do we.
  '': 'update',
  empty: 'update',
}

class Refusal extends Error {
  constructor(
    readonly code: TrackerFailureCode,
    message: string,
  ) {
    super(message)
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function optionalCount(value: unknown, name: string): void {
  if (value === undefined || value === null) return
  if (typeof value !== 'number' || !(value >= 0)) throw new Refusal('invalid_field', `invalid \`${name}\`: expected a non-negative number`)
}

function optionalString(value: unknown, name: string, max: number): string | undefined {
  if (value === undefined || value === null) return undefined
  if (typeof value !== 'string' || value.length === 0 || value.length > max) {
    throw new Refusal('invalid_field', `invalid \`${name}\`: expected a string of 1 to ${max} chars`)
  }
  return value
}

function id(value: unknown, name: string): string {
  const binary = toBinaryId(value)
  if (binary === null) throw new Refusal('invalid_field', `invalid \`${name}\`: expected 20 binary or 40 hex chars`)
  return binary
}

function description(value: unknown, type: 'offer' | 'answer', name: string): SessionDescription {
  if (!isObject(value) || value.type !== type || typeof value.sdp !== 'string') {
    throw new Refusal('invalid_field', `invalid \`${name}\`: expected { type: "${type}", sdp: string }`)
  }
  return { type, sdp: value.sdp }
}

function chorusTrack(value: unknown): ChorusTrack | undefined {
  if (value === undefined || value === null) return undefined
  if (!isObject(value)) throw new Refusal('invalid_field', 'invalid `chorus_track`: expected { id, version, bitrate }')
  const id = optionalString(value.id, 'chorus_track.id', MAX_TRACK_ID_CHARS)
  const version = optionalString(value.version, 'chorus_track.version', MAX_TRACK_ID_CHARS)
  const bitrate = value.bitrate
  if (id === undefined || version === undefined || typeof bitrate !== 'number' || !Number.isSafeInteger(bitrate) || bitrate <= 0) {
    throw new Refusal('invalid_field', 'invalid `chorus_track`: expected { id: string, version: string, bitrate: positive integer }')
  }
  return { id, version, bitrate }
}

function offerId(value: unknown, name: string): string {
  id(value, name)
  return value as string
}

export function parseRequest(text: string): ParsedRequest | ParseRefusal {
  let message: unknown
  try {
    message = JSON.parse(text)
  } catch {
    return { kind: 'refusal', code: 'invalid_json', message: 'message is not valid JSON' }
  }
  if (!isObject(message)) return { kind: 'refusal', code: 'invalid_field', message: 'message must be a JSON object' }
  const action = message.action
  if (action !== 'announce' && action !== 'scrape') {
    return { kind: 'refusal', code: 'unknown_action', message: `unknown action: ${JSON.stringify(action)?.slice(0, 40)}` }
  }
  // Echo info_hash in a refusal only when it is well formed: stock clients match replies on it.
  const echo = toBinaryId(message.info_hash) === null ? undefined : (message.info_hash as string)
  try {
    return action === 'announce' ? parseAnnounce(message) : parseScrape(message)
  } catch (error) {
    if (!(error instanceof Refusal)) throw error
    const refusal: ParseRefusal = { kind: 'refusal', code: error.code, message: error.message, action }
    if (echo !== undefined) refusal.infoHashWire = echo
    return refusal
  }
}

function parseAnnounce(message: Record<string, unknown>): ParsedAnnounce | ParsedAnswer {
  const infoHash = id(message.info_hash, 'info_hash')
  const peerId = id(message.peer_id, 'peer_id')
  const infoHashWire = message.info_hash as string
  const hex = infoHashWire.length === 40
  const token = optionalString(message.token, 'token', MAX_TOKEN_CHARS)
  const network = optionalString(message.network, 'network', MAX_NETWORK_CHARS)
  if (message.answer !== undefined) {
    const answer = description(message.answer, 'answer', 'answer')
    const toPeerId = id(message.to_peer_id, 'to_peer_id')
    return { kind: 'answer', infoHash, infoHashWire, hex, token, network, peerId, answer, toPeerId, offerId: offerId(message.offer_id, 'offer_id') }
  }
  const rawEvent = message.event ?? 'update'
  const event = typeof rawEvent === 'string' && Object.hasOwn(EVENTS, rawEvent) ? EVENTS[rawEvent] : undefined
  if (event === undefined) throw new Refusal('invalid_field', 'invalid `event`')
  optionalCount(message.uploaded, 'uploaded')
  optionalCount(message.downloaded, 'downloaded')
  optionalCount(message.numwant, 'numwant')
  optionalCount(message.left, 'left')
  const left = typeof message.left === 'number' ? message.left : null
  const track = chorusTrack(message.chorus_track)
  let offers: ParsedOffer[] = NO_OFFERS
  if (message.offers !== undefined && message.offers !== null) {
    if (!Array.isArray(message.offers) || message.offers.length > MAX_OFFERS_IN_MESSAGE) {
      throw new Refusal('invalid_field', `invalid \`offers\`: expected an array of at most ${MAX_OFFERS_IN_MESSAGE}`)
    }
    offers = []
    for (const item of message.offers as unknown[]) {
      if (!isObject(item)) throw new Refusal('invalid_field', 'invalid `offers` item: expected an object')
      offers.push({ offer: description(item.offer, 'offer', 'offers[].offer'), offerId: offerId(item.offer_id, 'offers[].offer_id') })
    }
  }
  return { kind: 'announce', infoHash, infoHashWire, hex, token, network, peerId, event, left, offers, track }
}

function parseScrape(message: Record<string, unknown>): ParsedScrape {
  const raw = typeof message.info_hash === 'string' ? [message.info_hash] : message.info_hash
  if (!Array.isArray(raw) || raw.length === 0 || raw.length > MAX_SCRAPE_HASHES) {
    throw new Refusal('invalid_field', `invalid \`info_hash\`: expected an id or an array of 1 to ${MAX_SCRAPE_HASHES} ids`)
  }
  const infoHashes: Array<[string, string]> = raw.map((wire: unknown) => [id(wire, 'info_hash'), wire as string])
  return {
    kind: 'scrape',
    infoHashes,
    hex: (raw[0] as string).length === 40,
    token: optionalString(message.token, 'token', MAX_TOKEN_CHARS),
  }
}
