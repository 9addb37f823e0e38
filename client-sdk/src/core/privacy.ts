import type { CandidateType } from './sdp.js'

/**
 * The listener's privacy mode, from its options (pure): what it shares with peers and what
 * its WebRTC descriptions reveal. A page can show it (`client.stats().privacy`).
 *
 *   off            no tracker connection, no WebRTC: edge and cache only
 *   download-only  takes chunks from peers, serves nobody (offers it cannot use are not answered)
 *   relay-only     WebRTC through a TURN server only: descriptions carry relay candidates, so
 *                  peers and the tracker see the TURN server's address, never the listener's
 *   direct         the default: host candidates (Node: interface addresses; browsers: mDNS
 *                  names), and srflx (the public address) when iceServers has a STUN server
 */
export type PrivacyMode = 'off' | 'download-only' | 'relay-only' | 'direct'

export interface Privacy {
  mode: PrivacyMode
  p2p: boolean
  uploads: boolean
  relayOnly: boolean
  /** The candidate types its SDP may carry. */
  candidates: CandidateType[]
}

export function privacyOf(o: { p2p: boolean; uploads: boolean; relayOnly: boolean; stun: boolean }): Privacy {
  if (!o.p2p) return { mode: 'off', p2p: false, uploads: false, relayOnly: false, candidates: [] }
  const candidates: CandidateType[] = o.relayOnly ? ['relay'] : o.stun ? ['host', 'srflx', 'relay'] : ['host', 'relay']
  const mode: PrivacyMode = o.relayOnly ? 'relay-only' : o.uploads ? 'direct' : 'download-only'
  return { mode, p2p: true, uploads: o.uploads, relayOnly: o.relayOnly, candidates }
}

/** Whether the ICE servers include a TURN server (what relay-only needs), and a STUN-capable one. */
export function iceKinds(servers: readonly RTCIceServer[]): { turn: boolean; stun: boolean } {
  const urls = servers.flatMap((s) => (Array.isArray(s.urls) ? s.urls : [s.urls]))
  const turn = urls.some((u) => /^turns?:/i.test(u))
  // A TURN server answers STUN binding requests too.
  return { turn, stun: turn || urls.some((u) => /^stun:/i.test(u)) }
}

/** The modes a listener can pick in the web player, in the order it offers them. */
export const PICKABLE_MODES: readonly PrivacyMode[] = ['direct', 'download-only', 'relay-only', 'off']

/** The client options of a mode (pure): what the web player passes to createClient for the listener's choice. */
export function modeOptions(mode: PrivacyMode): { p2p: boolean; upload?: false; relayOnly?: true } {
  switch (mode) {
    case 'off':
      return { p2p: false }
    case 'download-only':
      return { p2p: true, upload: false }
    case 'relay-only':
      return { p2p: true, relayOnly: true }
    default:
      return { p2p: true }
  }
}

/**
 * Which modes can hold on this page, and why not: every mode needs P2P from the page's config
 * except off, and relay-only needs a TURN server in its iceServers (createClient refuses it
 * otherwise).
 */
export function modeAvailability(o: { p2p: boolean; turn: boolean }): Record<PrivacyMode, string | true> {
  const noP2p = 'this player has no tracker (peer-to-peer is off here)'
  return {
    direct: o.p2p || noP2p,
    'download-only': o.p2p || noP2p,
    'relay-only': !o.p2p ? noP2p : o.turn || 'this player has no TURN server (no turn: URL in its iceServers)',
    off: true,
  }
}

/**
 * The mode a page starts in: the listener's saved choice while it can still hold, else P2P on
 * (or off when the page has no P2P). A choice that cannot hold now (the TURN server was taken
 * out of the config) is not kept silently as another mode: the page says so (`fellBack`).
 */
export function startMode(saved: string | null | undefined, o: { p2p: boolean; turn: boolean }): { mode: PrivacyMode; fellBack: boolean } {
  const fallback: PrivacyMode = o.p2p ? 'direct' : 'off'
  if (saved == null || !(PICKABLE_MODES as readonly string[]).includes(saved)) return { mode: fallback, fellBack: false }
  const mode = saved as PrivacyMode
  return modeAvailability(o)[mode] === true ? { mode, fellBack: false } : { mode: fallback, fellBack: true }
}

/**
 * iceServers from configuration text (a page's config.json, a command line): an array of
 * `{ urls, username?, credential? }` with stun:, turn: or turns: URLs. An Error says what is wrong.
 */
export function parseIceServers(input: unknown): RTCIceServer[] | Error {
  let value = input
  if (typeof input === 'string') {
    try {
      value = JSON.parse(input)
    } catch {
      return new Error('not JSON: expected [{ "urls": "turn:host:3478", "username": "...", "credential": "..." }]')
    }
  }
  if (!Array.isArray(value)) return new Error('expected an array of { urls, username?, credential? }')
  const out: RTCIceServer[] = []
  for (const [i, s] of value.entries()) {
    if (typeof s !== 'object' || s === null) return new Error(`entry ${i} is not an object`)
    const { urls, username, credential } = s as Record<string, unknown>
    const list = Array.isArray(urls) ? urls : [urls]
    if (list.length === 0 || !list.every((u) => typeof u === 'string' && /^(stun|turns?):\S+$/i.test(u))) return new Error(`entry ${i}: urls must be stun:, turn: or turns: URLs`)
    if (username !== undefined && typeof username !== 'string') return new Error(`entry ${i}: username must be a string`)
    if (credential !== undefined && typeof credential !== 'string') return new Error(`entry ${i}: credential must be a string`)
    out.push({ urls: urls as string | string[], ...(username !== undefined && { username }), ...(credential !== undefined && { credential }) })
  }
  return out
}
