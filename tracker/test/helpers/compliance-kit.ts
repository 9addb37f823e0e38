// What the compliance suites share: frame predicates, announce builders, a tracker per test with
// its peers closed after each subtest, and /metrics reads.

import type { Test } from 'tap'
import type { ConnectOptions, Frame, PeerSocket } from './peer-socket.js'
import { binaryId, connectPeer, hexId } from './peer-socket.js'
import type { StartTracker, StartedTracker } from './start-trackers.js'

export const isReply = (f: Frame) => 'interval' in f
export const isOffer = (f: Frame) => 'offer' in f
export const isAnswer = (f: Frame) => 'answer' in f
export const isFailure = (f: Frame) => 'failure reason' in f
export const isWarning = (f: Frame) => 'warning message' in f
export const isScrape = (f: Frame) => f.action === 'scrape'

export interface AnnounceFields {
  infoHash: string
  peerId: string
  left?: number | null
  event?: string
  offers?: number
  network?: string
  token?: string
}

let offerSeq = 0
function offers(count: number): Array<{ offer: { type: 'offer'; sdp: string }; offer_id: string }> {
  return Array.from({ length: count }, () => ({ offer: { type: 'offer' as const, sdp: `v=0 test-offer-${++offerSeq}` }, offer_id: binaryId() }))
}

export function announceMessage(a: AnnounceFields): Record<string, unknown> {
  const message: Record<string, unknown> = { action: 'announce', info_hash: a.infoHash, peer_id: a.peerId, numwant: a.offers ?? 0, uploaded: 0, downloaded: 0 }
  if (a.left !== undefined) message.left = a.left
  if (a.event !== undefined) message.event = a.event
  if (a.offers !== undefined) message.offers = offers(a.offers)
  if (a.network !== undefined) message.network = a.network
  if (a.token !== undefined) message.token = a.token
  return message
}

export async function announce(peer: PeerSocket, a: AnnounceFields): Promise<Frame> {
  const message = announceMessage(a)
  peer.send(message)
  return peer.next((f) => (isReply(f) || isFailure(f)) && f.info_hash === a.infoHash)
}

/** Resolves once every frame the tracker sent this socket before now has arrived. */
export async function sync(peer: PeerSocket): Promise<void> {
  const probe = hexId()
  peer.send({ action: 'scrape', info_hash: probe })
  await peer.next((f) => (isScrape(f) && typeof f.files === 'object' && f.files !== null && probe in f.files) || f.failure_code === 'scrape_disabled')
}

export function take(peer: PeerSocket, accept: (f: Frame) => boolean): Frame[] {
  const taken = peer.queued.filter(accept)
  for (const frame of taken) peer.queued.splice(peer.queued.indexOf(frame), 1)
  return taken
}

export async function withTracker(
  t: Test,
  start: StartTracker,
  options: Parameters<StartTracker>[0],
): Promise<{ tracker: StartedTracker; peer: (url?: string, connect?: ConnectOptions) => Promise<PeerSocket> }> {
  const tracker = await start(options)
  t.teardown(() => tracker.close())
  const open: PeerSocket[] = []
  t.afterEach(async () => {
    await Promise.all(open.splice(0).map((p) => p.close()))
  })
  return {
    tracker,
    peer: async (url = tracker.wsUrl, connect?: ConnectOptions) => {
      const p = await connectPeer(url, connect)
      open.push(p)
      return p
    },
  }
}

/** /metrics as the operator reads it (with the operator token when the tracker has one). */
export async function metricsText(tracker: StartedTracker): Promise<string> {
  const headers: Record<string, string> = tracker.operatorToken === undefined ? {} : { authorization: `Bearer ${tracker.operatorToken}` }
  const response = await fetch(`${tracker.httpUrl}/metrics`, { headers })
  if (response.status !== 200) throw new Error(`/metrics answered ${response.status}`)
  return response.text()
}

export async function metric(tracker: StartedTracker, name: string): Promise<number> {
  const text = await metricsText(tracker)
  const line = text.split('\n').find((l) => l.startsWith(`${name} `))
  return line === undefined ? Number.NaN : Number(line.split(' ')[1])
}

export async function eventually(check: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await check()) return
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error(`never happened: ${what}`)
}
