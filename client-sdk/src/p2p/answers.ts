import type { SessionDescription } from '../../../protocol/index.js'
import { DEFAULT_OFFER_ADMISSION, type OfferAdmissionOptions, type OfferAdmissionStats, type OfferCandidate, createOfferAdmission } from '../core/offer-admission.js'
import type { SimplePeerLike } from './peer-link.js'

/**
 * Answering offers the tracker relays: carries out core/offer-admission.ts's decisions. Each
 * answer is an RTCPeerConnection; the core says which offers get one, now or from its queue, and
 * which attempt gives its place up. What an answer needs of its swarm travels with the offer.
 */
interface OfferJob {
  offer: SessionDescription
  /** The data channel is up. */
  connected(peer: SimplePeerLike): void
  /** Our answer, for the tracker to relay. */
  answer(sdp: string): void
  /** Still worth answering (the swarm joined, the remote not connected meanwhile, room left). */
  wanted(): boolean
}

export interface AnswersDeps {
  admission?: Partial<OfferAdmissionOptions>
  newPeer(): SimplePeerLike
  /** Follows a connection being set up: onSettled(true) when it is up, (false) when it failed or timed out. */
  track(peer: SimplePeerLike, onConnect: () => void, onSettled: (ok: boolean) => void, timeoutMs: number): void
  timeoutMs: number
  now?: () => number
}

/** This listener's answering of relayed offers, across every swarm. */
export interface Answers {
  /** A relayed offer: answered now (perhaps in the place of a stale attempt), later from the queue, or not at all. */
  offer(c: OfferCandidate<OfferJob>): void
  stats(): OfferAdmissionStats
  /** No more answers; the queue's timer stops (connections being set up are the caller's to end). */
  close(): void
}

export function createAnswers(deps: AnswersDeps): Answers {
  const now = deps.now ?? (() => performance.now())
  const admission = createOfferAdmission<OfferJob>({ ...DEFAULT_OFFER_ADMISSION, ...deps.admission })
  /** Answered connections being set up, by attempt id. */
  const attempts = new Map<number, SimplePeerLike>()
  let timer: ReturnType<typeof setTimeout> | undefined
  let closed = false

  function answer(c: OfferCandidate<OfferJob>, id: number): void {
    const peer = deps.newPeer()
    attempts.set(id, peer)
    deps.track(
      peer,
      () => c.payload.connected(peer),
      (ok) => {
        attempts.delete(id)
        admission.settled(id, ok, now())
        drain()
      },
      deps.timeoutMs,
    )
    peer.on('signal', (data) => {
      if (data.type === 'answer' && data.sdp) c.payload.answer(data.sdp)
    })
    peer.signal(c.payload.offer)
  }

  /** Answers the best waiting offers there is room for now. */
  function drain(): void {
    if (closed) return
    for (const c of admission.next(now(), (w) => w.payload.wanted())) {
      if (c.replaces !== undefined) attempts.get(c.replaces)?.destroy()
      answer(c, c.id)
    }
    schedule()
  }

  function schedule(): void {
    if (timer || closed) return
    const wait = admission.retryInMs(now())
    if (wait === undefined) return
    timer = setTimeout(
      () => {
        timer = undefined
        drain()
      },
      Math.max(50, wait),
    )
    timer.unref?.()
  }

  return {
    offer(c) {
      const d = admission.consider(c, now())
      if (d.type === 'answer') {
        // An attempt that had its time and did not connect gives its place up.
        if (d.replaces !== undefined) attempts.get(d.replaces)?.destroy()
        answer(c, d.id)
      } else if (d.type === 'queued') schedule()
    },
    stats: () => admission.stats(),
    close() {
      closed = true
      clearTimeout(timer)
    },
  }
}
