import { createTokenBucket } from '../core/token-bucket.js'
import { DEFAULT_RATIO_CHOKE, DEFAULT_UPLOAD_ADMISSION, type RefusalReason, chokeForRatio, createUploadAdmission, unchokeAfterRatio } from '../core/upload-admission.js'
import { DEFAULT_UPLOAD_BUDGET, createUploadBudget } from '../core/upload-budget.js'
import type { PeerLink } from './peer-link.js'
import type { UploadSource } from './peer-set.js'

/**
 * Serving peers: carries out the upload cores' decisions (core/upload-admission.ts,
 * core/upload-budget.ts) on peer links. Each link's accepted requests go out one chunk at a time,
 * paced by the rate cap (a token bucket shared by every link), and a cancel stops a chunk
 * between two fragments. A peer refused for the ratio rule is choked until the budget is back.
 */
export interface UploadLimits {
  /** Peers served at once (4). */
  slots: number
  /** Requests one peer may have outstanding (16); more are refused. */
  perPeer: number
  /** Bytes per second for all uploads together; Infinity: no cap. */
  rate: number
  /** Upload at most ratio x download over windowMs, plus allowanceBytes (core/upload-budget.ts). */
  ratio: number
  windowMs: number
  allowanceBytes: number
}

export const DEFAULT_UPLOAD_RATE = 512 * 1024

export const DEFAULT_UPLOAD_LIMITS: UploadLimits = {
  slots: DEFAULT_UPLOAD_ADMISSION.slots,
  perPeer: DEFAULT_UPLOAD_ADMISSION.perPeer,
  rate: DEFAULT_UPLOAD_RATE,
  ratio: DEFAULT_UPLOAD_BUDGET.ratio,
  windowMs: DEFAULT_UPLOAD_BUDGET.windowMs,
  allowanceBytes: DEFAULT_UPLOAD_BUDGET.allowanceBytes,
}

/** What a link key stands for: one remote in one swarm. */
interface UploadPeer {
  key: string
  link: PeerLink
  source: UploadSource
  chunkLength(index: number): number | undefined
  /** The remote broke the rules (flooding requests): drop and ban it. */
  violation(reason: string): void
}

/** `uploads.stats()`. */
export interface UploadStats {
  uploadedBytes: number
  /** Requests cancelled by peers (queued or being sent). */
  cancelled: number
  /** Peers dropped for flooding requests. */
  violations: number
  /** Peers being served now. */
  serving: number
  refused: Record<RefusalReason, number>
  /** The ratio rule's window now: bytes down and up, and what may still go up. */
  window: { downloaded: number; uploaded: number; available: number }
}

/** This listener's uploads to every peer of every swarm; peers are named by link key (UploadPeer.key). */
export interface Uploads {
  /** A peer asked for chunk `index`: queued and sent, or refused (a reject, and a choke for the ratio rule), or a violation reported. */
  request(p: UploadPeer, index: number): void
  /** A peer cancelled its request: out of the queue, or the chunk stops between two fragments. */
  cancel(key: string, index: number): void
  /** The link is gone: its queue is dropped and its chunk in progress stops. */
  gone(key: string): void
  /** Bytes downloaded (edge or peers): they raise the upload budget. */
  downloaded(bytes: number): void
  /** While on, every request is refused (a playback is low on buffer). */
  setEmergency(on: boolean): void
  stats(): UploadStats
  /** Stops every chunk being sent and the unchoke timer. */
  close(): void
}

export function createUploads(options: { limits: UploadLimits | false; now?: () => number }): Uploads {
  const now = options.now ?? (() => performance.now())
  const limits = options.limits === false ? { ...DEFAULT_UPLOAD_LIMITS, rate: 0 } : options.limits
  const uploads = options.limits !== false
  const budget = createUploadBudget({ ratio: limits.ratio, windowMs: limits.windowMs, allowanceBytes: limits.allowanceBytes })
  const admission = createUploadAdmission({ slots: limits.slots, perPeer: limits.perPeer, maxAbuse: DEFAULT_UPLOAD_ADMISSION.maxAbuse }, budget)
  const bucket = createTokenBucket(limits.rate)
  /** The chunk being sent to each link, and whether it was cancelled. */
  const sending = new Map<string, { index: number; stop: boolean }>()
  /** Links choked for the ratio rule, and when. */
  const choked = new Map<string, { link: PeerLink; at: number }>()
  let emergency = false
  let unchokeTimer: ReturnType<typeof setInterval> | undefined
  const stats = { uploadedBytes: 0, cancelled: 0, violations: 0 }

  async function pace(bytes: number): Promise<void> {
    const wait = bucket.take(bytes, now())
    if (wait > 0) await new Promise((r) => setTimeout(r, wait))
  }

  async function pump(p: UploadPeer): Promise<void> {
    if (sending.has(p.key)) return
    for (let item = admission.next(p.key); item; item = admission.next(p.key)) {
      const state = { index: item.index, stop: false }
      sending.set(p.key, state)
      let sent = 0
      try {
        const bytes = await p.source.get(item.index)
        if (!bytes || bytes.byteLength !== item.length) void p.link.send({ type: 'reject', index: item.index })
        else if (!state.stop) sent = await p.link.sendChunk(item.index, bytes, pace, () => state.stop)
      } catch {
        // A closed link or an unreadable cache: what went out is counted, the rest is not sent.
      } finally {
        sending.delete(p.key)
        admission.finished(p.key, item.index, sent, now())
        stats.uploadedBytes += sent
      }
    }
  }

  function chokeRatioRefused(p: UploadPeer): void {
    if (!chokeForRatio(choked.get(p.key)?.at, now(), DEFAULT_RATIO_CHOKE)) return
    choked.set(p.key, { link: p.link, at: now() })
    void p.link.send({ type: 'choke' })
    unchokeTimer ??= setInterval(unchokeIfAble, DEFAULT_RATIO_CHOKE.checkMs)
    ;(unchokeTimer as { unref?: () => void }).unref?.()
  }

  /** Budget back (old uploads left the window, or downloads added to it): peers choked for it may ask again. */
  function unchokeIfAble(): void {
    if (!unchokeAfterRatio({ emergency, available: budget.available(now()) }, DEFAULT_RATIO_CHOKE)) return
    for (const { link } of choked.values()) if (!link.closed) void link.send({ type: 'unchoke' })
    choked.clear()
    clearInterval(unchokeTimer)
    unchokeTimer = undefined
  }

  return {
    request(p: UploadPeer, index: number): void {
      const length = p.chunkLength(index)
      if (length === undefined) return void p.link.send({ type: 'reject', index })
      const d = admission.request(p.key, index, { uploads, emergency, holds: p.source.held().has(index), length, now: now() })
      switch (d.type) {
        case 'queued':
          void pump(p)
          return
        case 'refused':
          void p.link.send({ type: 'reject', index })
          if (d.reason === 'ratio') chokeRatioRefused(p)
          return
        case 'duplicate':
          return
        case 'violation':
          stats.violations++
          p.violation(d.reason)
      }
    },
    cancel(key: string, index: number): void {
      const d = admission.cancel(key, index, now())
      if (d.type === 'none') return
      stats.cancelled++
      if (d.type === 'abort') {
        const s = sending.get(key)
        if (s?.index === index) s.stop = true
      }
    },
    gone(key: string): void {
      admission.dropPeer(key, now())
      choked.delete(key)
      const s = sending.get(key)
      if (s) s.stop = true
    },
    downloaded(bytes: number): void {
      budget.downloaded(bytes, now())
      if (choked.size > 0) unchokeIfAble()
    },
    setEmergency(on: boolean): void {
      emergency = on
    },
    stats(): UploadStats {
      const w = budget.window(now())
      return {
        ...stats,
        serving: admission.serving(),
        refused: admission.refused() as Record<RefusalReason, number>,
        window: { downloaded: w.downloaded, uploaded: w.uploaded, available: budget.available(now()) },
      }
    },
    close(): void {
      clearInterval(unchokeTimer)
      unchokeTimer = undefined
      for (const s of sending.values()) s.stop = true
    },
  }
}
