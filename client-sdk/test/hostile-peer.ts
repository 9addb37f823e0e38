// Attackers for the SDK's security tests (issue 15), speaking the real protocols: a raw tracker
// socket (the WebTorrent JSON protocol over `ws`), and a hostile peer that reaches a real SDK
// client through the real tracker and then writes whatever it likes on a real WebRTC data
// channel (@roamhq/wrtc through simple-peer), in the binary peer protocol.

import { randomBytes } from 'node:crypto'
import wrtc from '@roamhq/wrtc'
import SimplePeer from 'simple-peer'
import type { Test } from 'tap'
import WebSocket from 'ws'
import { type PeerMessage, decodePeerMessage, encodePeerMessage } from '../../protocol/index.js'
import { sleep, until } from './stack.js'

export const hexId = () => randomBytes(20).toString('hex')

export interface TrackerSocket {
  ws: WebSocket
  frames: Array<Record<string, unknown>>
  send(message: unknown): void
  next(accept: (f: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>
  close(): void
}

/** A raw socket to the tracker: sends what the test says, keeps every frame it gets. */
export async function trackerSocket(t: Test, url: string): Promise<TrackerSocket> {
  const ws = new WebSocket(url, { closeTimeout: 300 } as WebSocket.ClientOptions)
  const frames: Array<Record<string, unknown>> = []
  const waiters = new Set<{ accept: (f: Record<string, unknown>) => boolean; resolve: (f: Record<string, unknown>) => void }>()
  ws.on('message', (data) => {
    let frame: Record<string, unknown>
    try {
      frame = JSON.parse(data.toString())
    } catch {
      return
    }
    frames.push(frame)
    for (const w of waiters) {
      if (!w.accept(frame)) continue
      waiters.delete(w)
      w.resolve(frame)
    }
  })
  ws.on('error', () => {})
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve())
    ws.once('error', reject)
  })
  const socket: TrackerSocket = {
    ws,
    frames,
    send: (m) => ws.readyState === WebSocket.OPEN && ws.send(JSON.stringify(m)),
    next(accept, timeoutMs = 20_000) {
      const seen = frames.find(accept)
      if (seen) return Promise.resolve(seen)
      return new Promise((resolve, reject) => {
        const w = {
          accept,
          resolve: (f: Record<string, unknown>) => {
            clearTimeout(timer)
            resolve(f)
          },
        }
        const timer = setTimeout(() => {
          waiters.delete(w)
          reject(new Error(`no matching tracker frame within ${timeoutMs} ms`))
        }, timeoutMs)
        waiters.add(w)
      })
    },
    close: () => ws.close(),
  }
  t.teardown(() => socket.close())
  return socket
}

/** A real WebRTC offer (trickle off, so with its candidates) from a connection closed right after: nobody will ever answer its ICE checks. */
export async function deadOffer(): Promise<string> {
  const peer = new SimplePeer({ initiator: true, wrtc, trickle: false })
  const sdp = await new Promise<string>((resolve) => peer.on('signal', (s: { type?: string; sdp?: string }) => s.type === 'offer' && resolve(s.sdp!)))
  peer.destroy()
  return sdp
}

export interface HostilePeer {
  peerId: string
  socket: TrackerSocket
  /** Writes one peer message (or raw bytes) on the data channel. */
  send(m: PeerMessage | Uint8Array): void
  /** Every message the victim sent, decoded. */
  messages: PeerMessage[]
  /** Calls `fn` with every message from now on. */
  onMessage(fn: (m: PeerMessage) => void): void
  /** Bytes of piece data received. */
  pieceBytes: number
  /** Resolves when the victim says bye (it closes the link); this side then ends the channel. */
  bye: Promise<void>
  readonly closed: boolean
  close(): Promise<void>
}

/**
 * Joins the swarm at the tracker (as a holder with left 0, or a seeker), offers a data channel
 * and waits for the victim's answer. Honest about the protocol's closing rule only: on the
 * victim's bye it ends its side at once, so no channel is torn down under a send.
 */
export async function hostilePeer(t: Test, options: { trackerUrl: string; infoHash: string; left: number; timeoutMs?: number }): Promise<HostilePeer> {
  const socket = await trackerSocket(t, options.trackerUrl)
  const peerId = hexId()
  // Several offers: the tracker hands each to a different member of the swarm (holders first),
  // and the victim need not be the first it picks.
  const offers = Array.from({ length: 4 }, () => {
    const peer = new SimplePeer({ initiator: true, wrtc, trickle: false })
    peer.on('error', () => {})
    return { peer, offerId: hexId() }
  })
  let chosen: SimplePeer.Instance | undefined
  t.teardown(() => {
    for (const o of offers) if (o.peer !== chosen) o.peer.destroy()
  })
  const sdps = await Promise.all(offers.map((o) => new Promise<string>((resolve) => o.peer.on('signal', (s: { type?: string; sdp?: string }) => s.type === 'offer' && resolve(s.sdp!)))))
  socket.send({
    action: 'announce',
    info_hash: options.infoHash,
    peer_id: peerId,
    numwant: offers.length,
    left: options.left,
    event: 'started',
    offers: offers.map((o, i) => ({ offer: { type: 'offer', sdp: sdps[i] }, offer_id: o.offerId })),
  })
  const answer = await socket.next((f) => typeof f.answer === 'object' && offers.some((o) => o.offerId === f.offer_id), options.timeoutMs ?? 20_000)
  const peer = offers.find((o) => o.offerId === answer.offer_id)!.peer
  chosen = peer
  for (const o of offers) if (o.peer !== peer) o.peer.destroy()
  const messages: PeerMessage[] = []
  const listeners: Array<(m: PeerMessage) => void> = []
  let pieceBytes = 0
  let closed = false
  let onBye!: () => void
  const bye = new Promise<void>((resolve) => (onBye = resolve))
  peer.on('close', () => {
    closed = true
    onBye()
  })
  peer.on('data', (data: Uint8Array) => {
    let m: PeerMessage
    try {
      m = decodePeerMessage(new Uint8Array(data.buffer, data.byteOffset, data.byteLength))
    } catch {
      return
    }
    messages.push(m)
    if (m.type === 'piece') pieceBytes += m.data.length
    for (const fn of listeners) fn(m)
    if (m.type === 'bye') {
      closed = true
      peer.destroy()
      onBye()
    }
  })
  peer.signal(answer.answer as SimplePeer.SignalData)
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the victim answered but the channel never opened')), 15_000)
    peer.once('connect', () => {
      clearTimeout(timer)
      resolve()
    })
  })
  const hostile: HostilePeer = {
    peerId,
    socket,
    messages,
    onMessage: (fn) => void listeners.push(fn),
    get pieceBytes() {
      return pieceBytes
    },
    bye,
    get closed() {
      return closed
    },
    send(m) {
      if (closed) return
      peer.write(m instanceof Uint8Array ? m : encodePeerMessage(m))
    },
    async close() {
      if (closed) return
      peer.write(encodePeerMessage({ type: 'bye' }))
      await Promise.race([bye, sleep(2500)])
      closed = true
      peer.destroy()
    },
  }
  t.teardown(() => hostile.close())
  return hostile
}

/** Waits until the victim has sent a message of this type (e.g. its bitfield, a request). */
export async function waitFor(h: HostilePeer, accept: (m: PeerMessage) => boolean, what: string, timeoutMs = 20_000): Promise<PeerMessage> {
  await until(() => h.messages.some(accept), what, timeoutMs)
  return h.messages.find(accept)!
}

/** `p`, or a failure after `ms` (an attack the SDK does not answer must fail the test, not hang it). */
export function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined
  return Promise.race([p.finally(() => clearTimeout(timer)), new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms)))])
}
