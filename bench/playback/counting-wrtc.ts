import wrtc from '@roamhq/wrtc'

/**
 * @roamhq/wrtc with its RTCPeerConnection counted: how many the SDK makes, how many ever
 * connect, and how long their constructor and close() hold the event loop. Passed to the SDK
 * through its `wrtc` option; the connections are the real ones.
 */
export interface PeerConnectionCounters {
  created: number
  connected: number
  closed: number
  /** Ms spent inside the constructor and inside close(), both synchronous. */
  constructMs: number
  closeMs: number
}

export function createCountingWrtc(): { wrtc: unknown; counters: PeerConnectionCounters } {
  const counters: PeerConnectionCounters = { created: 0, connected: 0, closed: 0, constructMs: 0, closeMs: 0 }
  const Base = (wrtc as unknown as { RTCPeerConnection: new (config?: unknown) => RTCPeerConnection }).RTCPeerConnection
  class CountedPeerConnection extends Base {
    constructor(config?: unknown) {
      const t = performance.now()
      super(config)
      counters.constructMs += performance.now() - t
      counters.created++
      let seen = false
      this.addEventListener('connectionstatechange', () => {
        if (!seen && this.connectionState === 'connected') {
          seen = true
          counters.connected++
        }
      })
    }

    override close(): void {
      const t = performance.now()
      super.close()
      counters.closeMs += performance.now() - t
      counters.closed++
    }
  }
  return { wrtc: { ...(wrtc as object), RTCPeerConnection: CountedPeerConnection }, counters }
}
