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
