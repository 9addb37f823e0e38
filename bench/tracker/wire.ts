// The load's messages, the same bytes for every server: ids in the 20-char binary form that stock
// clients (and bittorrent-tracker's server) use, SDP-sized offers.

import { createHash } from 'node:crypto'

export const SWARM_SIZE = 20

export function swarmId(swarm: number): { binary: string; hex: string } {
  const digest = createHash('sha1').update(`bench-swarm-${swarm}`).digest()
  return { binary: digest.toString('latin1'), hex: digest.toString('hex') }
}

function peerId(index: number): string {
  return `-BN0001-${String(index).padStart(12, '0')}`
}

/** About 1 KB, the size of a non-trickle data-channel offer. */
const SDP = `v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\na=msid-semantic: WMS\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\n${'a=candidate:1 1 udp 2122260223 192.0.2.1 54321 typ host generation 0 network-id 1\r\n'.repeat(8)}a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\na=fingerprint:sha-256 ${'AB:'.repeat(31)}AB\r\na=setup:actpass\r\na=mid:0\r\na=sctp-port:5000\r\n`

export function announce(index: number, swarm: number, options: { event?: string; offers?: number }): string {
  const message: Record<string, unknown> = {
    action: 'announce',
    info_hash: swarmId(swarm).binary,
    peer_id: peerId(index),
    numwant: options.offers ?? 0,
    uploaded: 0,
    downloaded: 0,
    left: 0,
  }
  if (options.event !== undefined) message.event = options.event
  if (options.offers) {
    message.offers = Array.from({ length: options.offers }, (_, k) => ({
      offer: { type: 'offer', sdp: SDP },
      offer_id: `bench-offer-${String(index % 1e6).padStart(6, '0')}-${k}`.padEnd(20, '.').slice(0, 20),
    }))
  }
  return JSON.stringify(message)
}
