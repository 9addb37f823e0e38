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

/**
 * Lines a data-channel description needs, besides candidates: the session lines, BUNDLE, ICE
 * credentials and options, the DTLS fingerprint and role, the section's id and SCTP parameters.
 * Anything else (e.g. `a=extmap-allow-mixed`, `a=msid-semantic`, an `a=tls-id`) is about media
 * or says which implementation wrote it, which no peer needs to know.
 */
const NEEDED = /^(v=|t=|m=|a=group:BUNDLE |a=ice-ufrag:|a=ice-pwd:|a=ice-options:|a=ice-lite$|a=fingerprint:|a=setup:|a=mid:|a=sctp-port:|a=sctpmap:|a=max-message-size:|a=end-of-candidates$)/

const CANDIDATE_FIELDS = /^a=candidate:(\S+) (\d+) (\S+) (\d+) (\S+) (\d+) typ (host|srflx|prflx|relay)(?: |$)/

/**
 * What of a local description may leave (pure), offer or answer, before it goes to the tracker
 * and on to peers. Nothing a data channel does not use goes out:
 *
 * - candidates: UDP only (data channels run over UDP; TCP candidates, a passive one per
 *   interface, only add addresses), component 1, and of the types `keep` allows (relay-only:
 *   relay; a host candidate, its mDNS `.local` name too, goes when host is not allowed);
 * - in each candidate: no `raddr`/`rport` (the local address behind a srflx or relay candidate:
 *   ICE ignores it; `0.0.0.0 0` as browsers send when they hide it), no `network-id` or
 *   `network-cost` (Chromium's: the latter says Wi-Fi or cellular), the foundation renumbered
 *   (implementations hash the base address into it: equal foundations stay equal, which is all
 *   ICE uses them for) and the priority's local preference replaced by the candidate's rank
 *   (libwebrtc derives it from the network adapter's type; the order of candidates is kept, so
 *   the same pairs are tried first);
 * - `c=` and the port of `m=`: the default candidate's address and port, which ICE does not
 *   use; `IN IP4 0.0.0.0` and 9, as in a description with no candidate yet;
 * - `o=` and `s=`: no user name, address or session name (Firefox writes its version in `o=`);
 *   the session id and version stay (random per connection, and compared on renegotiation);
 * - any other attribute not in NEEDED.
 *
 * Line endings are kept as they were.
 */
export function outgoingDescription(sdp: string, keep: readonly CandidateType[]): string {
  const eol = sdp.includes('\r\n') ? '\r\n' : '\n'
  const src = lines(sdp)
  const trailing = src.at(-1) === '' ? src.pop() : undefined
  const foundations = new Map<string, number>()
  // Candidates kept, with their original priority: the rank within each type sets the new local preference.
  const cands: Array<{ at: number; f: string; type: CandidateType; priority: number; address: string; port: string }> = []
  const out: string[] = []
  for (const line of src) {
    if (line.startsWith('a=candidate:')) {
      const m = CANDIDATE_FIELDS.exec(line)
      if (m?.[2] !== '1' || m[3]!.toLowerCase() !== 'udp' || !keep.includes(m[7] as CandidateType)) continue
      cands.push({ at: out.length, f: m[1]!, type: m[7] as CandidateType, priority: Number(m[4]), address: m[5]!, port: m[6]! })
      out.push('')
      continue
    }
    if (line.startsWith('o=')) {
      const f = line.slice(2).split(' ')
      out.push(f.length >= 6 ? `o=- ${f[1]} ${f[2]} IN IP4 127.0.0.1` : line)
      continue
    }
    if (line.startsWith('s=')) {
      out.push('s=-')
      continue
    }
    if (line.startsWith('c=')) {
      out.push('c=IN IP4 0.0.0.0')
      continue
    }
    if (line.startsWith('m=')) {
      const f = line.split(' ')
      if (f.length >= 3) f[1] = '9'
      out.push(f.join(' '))
      continue
    }
    if (NEEDED.test(line)) out.push(line)
  }
  const byPriority = [...cands].sort((a, b) => b.priority - a.priority)
  for (const c of cands) {
    if (!foundations.has(c.f)) foundations.set(c.f, foundations.size + 1)
    const typePreference = Math.floor(c.priority / 2 ** 24) & 0xff
    const rank = byPriority.filter((x) => x.type === c.type).indexOf(c)
    const priority = typePreference * 2 ** 24 + (65535 - Math.min(rank, 65535)) * 2 ** 8 + 255
    const related = c.type === 'host' ? '' : ' raddr 0.0.0.0 rport 0'
    out[c.at] = `a=candidate:${foundations.get(c.f)} 1 udp ${priority} ${c.address} ${c.port} typ ${c.type}${related}`
  }
  if (trailing !== undefined) out.push(trailing)
  return out.join(eol)
}
