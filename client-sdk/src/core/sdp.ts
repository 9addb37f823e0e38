/**
 * What an SDP offer or answer tells others, read and trimmed as text (pure). With trickle off a
 * description carries every ICE candidate its side gathered:
 *
 *   host   an address of a local interface (browsers put an mDNS name `<uuid>.local` in its
 *          place unless the page may use the microphone; Node's WebRTC gives the address)
 *   srflx  the public address a STUN server saw (only with a STUN server in `iceServers`)
 *   prflx  learned during checks (never in a description)
 *   relay  an address on a TURN server
 *
 * In relay-only mode the SDK asks WebRTC for relay candidates only (iceTransportPolicy 'relay')
 * and, in case an implementation ignores that, drops every other candidate line before the
 * description leaves: peers and the tracker learn the TURN server's address, not the listener's.
 */
export type CandidateType = 'host' | 'srflx' | 'prflx' | 'relay'

const CANDIDATE = /^a=candidate:\S+ \d+ \S+ \d+ (\S+) \d+ typ (host|srflx|prflx|relay)\b/

export interface SdpCandidate {
  type: CandidateType
  address: string
}

function lines(sdp: string): string[] {
  return sdp.split(/\r?\n/)
}

export function candidates(sdp: string): SdpCandidate[] {
  const out: SdpCandidate[] = []
  for (const line of lines(sdp)) {
    const m = CANDIDATE.exec(line)
    if (m) out.push({ type: m[2] as CandidateType, address: m[1]! })
  }
  return out
}

/** The description without candidates of other types than `keep` (line endings kept as they were). */
export function keepCandidates(sdp: string, keep: readonly CandidateType[]): string {
  const eol = sdp.includes('\r\n') ? '\r\n' : '\n'
  return lines(sdp)
    .filter((line) => {
      if (!line.startsWith('a=candidate:')) return true
      const m = CANDIDATE.exec(line)
      return m !== null && keep.includes(m[2] as CandidateType)
    })
    .join(eol)
}

/** The DTLS certificate fingerprint the description names, '' when none. */
export function fingerprint(sdp: string): string {
  for (const line of lines(sdp)) if (line.startsWith('a=fingerprint:')) return line.slice(14).trim().toLowerCase().slice(0, 200)
  return ''
}

/**
 * Whether a remote's offer can make a data channel at all: a data channel section, ICE
 * credentials, a DTLS fingerprint and (trickle being off) at least one candidate. Anything else
 * would cost an RTCPeerConnection for nothing.
 */
export function saneOffer(sdp: unknown): sdp is string {
  if (typeof sdp !== 'string' || sdp.length > 64 * 1024) return false
  return /^m=application /m.test(sdp) && /^a=ice-ufrag:/m.test(sdp) && /^a=ice-pwd:/m.test(sdp) && fingerprint(sdp) !== '' && candidates(sdp).length > 0
}
