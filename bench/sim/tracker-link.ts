import { DEFAULT_SEEDING_RULES, DEFAULT_TRACKER_PACING, type MessagePacer, createMessagePacer } from '../../client-sdk/core.js'
import { DEFAULT_TRACKER_OPTIONS, type TrackerCore, type TrackerEffect, createTrackerCore } from '../../tracker/core.js'
import type { EventQueue } from './event-queue.js'

/**
 * The tracker's own core (tracker/src/core/tracker-core.ts) under virtual time: the same rules,
 * the same JSON frames in and out as on its `ws` server, with each listener's half round trip
 * on the way in and on the way back. Sockets are numbers; the core's effects are delivered to
 * the listener that owns the socket, if it still does.
 */
export interface TrackerPeer {
  rttMs: number
  /** The socket this listener holds now (a closed one is gone). */
  socket: number | undefined
  onTracker(reply: Record<string, unknown>): void
}

/**
 * `seededSwarms`: the swarms a client keeps with nothing playing in them. Past the SDK's own
 * number (what-if runs), the tracker is let take as many more swarms per socket, so that the
 * what-if measures the seeding rather than the tracker closing sockets for it.
 */
export function createTrackerLink(q: EventQueue, random: () => number, seededSwarms: number = DEFAULT_SEEDING_RULES.swarms) {
  const core: TrackerCore = createTrackerCore({
    now: () => q.now,
    random,
    // One core holds every socket here; the real deployment shards (processes or Durable Objects).
    maxConnections: 100_000_000,
    maxSwarmsPerSocket: DEFAULT_TRACKER_OPTIONS.maxSwarmsPerSocket + Math.max(0, seededSwarms - DEFAULT_SEEDING_RULES.swarms),
  })
  const counters = { messages: 0, closedByTracker: 0 }
  // The SDK's tracker client paces what it sends (its pacing core, client-sdk/src/core/message-pacing.ts),
  // queueing the rest: here each frame leaves at the time the core gives. One pacer per socket.
  const pacers = new WeakMap<TrackerPeer, { socket: number; pacer: MessagePacer }>()

  function apply(effects: TrackerEffect[]): void {
    for (const e of effects) {
      const peer = e.handle as TrackerPeer
      if (e.type === 'send') {
        const socket = e.socket
        q.after(peer.rttMs / 2, () => {
          if (peer.socket === socket) peer.onTracker(JSON.parse(e.data) as Record<string, unknown>)
        })
      } else if (e.type === 'close') {
        counters.closedByTracker++
        if (peer.socket === e.socket) peer.socket = undefined
        core.close(e.socket)
      } else if (e.type === 'ping') core.pong(e.socket)
    }
  }

  const sweep = () => {
    apply(core.tick())
    q.after(30_000, sweep)
  }
  q.after(30_000, sweep)

  return {
    core,
    counters,
    /** A WebSocket opened now; usable once it is open (one round trip). */
    open(peer: TrackerPeer): number {
      const { socket, effects } = core.open({ handle: peer })
      apply(effects)
      return socket
    },
    /** A frame from `peer`, at the tracker half a round trip later. */
    send(peer: TrackerPeer, frame: Record<string, unknown>): void {
      const socket = peer.socket
      if (socket === undefined) return
      const data = JSON.stringify(frame)
      let p = pacers.get(peer)
      if (p?.socket !== socket) {
        p = { socket, pacer: createMessagePacer(DEFAULT_TRACKER_PACING) }
        pacers.set(peer, p)
      }
      const leaves = p.pacer.nextAt(q.now)
      p.pacer.sent(leaves)
      q.at(leaves + peer.rttMs / 2, () => {
        counters.messages++
        apply(core.message(socket, data))
      })
    },
    close(socket: number): void {
      core.close(socket)
    },
    stats: () => core.stats(),
  }
}

export type TrackerLink = ReturnType<typeof createTrackerLink>
