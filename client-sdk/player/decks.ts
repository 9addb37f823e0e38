/**
 * Media Source plumbing for the web player: one MediaSource on one <audio> element, with every
 * SourceBuffer operation (append, remove, settings, end of stream) run one after another, since
 * a SourceBuffer takes nothing while it is updating. The page decides what goes where on the
 * timeline (client-sdk/src/core/transition.ts); this file only carries it out.
 */

/** MediaSource, or Safari's ManagedMediaSource on iPhones, where only that one exists. */
export function mediaSourceClass(): typeof MediaSource | undefined {
  const g = globalThis as { MediaSource?: typeof MediaSource; ManagedMediaSource?: typeof MediaSource }
  return g.MediaSource ?? g.ManagedMediaSource
}

export function canPlayType(mime: string): boolean {
  const MS = mediaSourceClass()
  return MS?.isTypeSupported(mime) === true
}

/** A plain-language name for a MIME type, for messages. */
export function formatName(mime: string): string {
  if (mime.startsWith('audio/mp4')) return 'AAC audio in MP4'
  if (mime.startsWith('audio/mpeg')) return 'MP3 audio'
  return mime
}

export class FeedClosed extends Error {
  constructor() {
    super('the audio feed was closed')
  }
}

/** Where the next bytes go: the SourceBuffer mode, the offset added to their timestamps, the window that keeps audio. */
export interface Placement {
  mode: AppendMode
  timestampOffset: number
  windowStart: number
  windowEnd: number
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

function whenIdle(sb: SourceBuffer): Promise<void> {
  if (!sb.updating) return Promise.resolve()
  return new Promise((resolve) => sb.addEventListener('updateend', () => resolve(), { once: true }))
}

export function ranges(r: TimeRanges | undefined): Array<[number, number]> {
  const out: Array<[number, number]> = []
  if (!r) return out
  for (let i = 0; i < r.length; i++) out.push([r.start(i), r.end(i)])
  return out
}

export class Feed {
  readonly mediaSource: MediaSource
  readonly url: string
  buffer: SourceBuffer | undefined
  mime: string | undefined
  closed = false
  private chain: Promise<unknown> = Promise.resolve()

  constructor(readonly audio: HTMLAudioElement) {
    const MS = mediaSourceClass()
    if (!MS) throw new Error('no Media Source Extensions')
    this.mediaSource = new MS()
    this.url = URL.createObjectURL(this.mediaSource)
  }

  /** Attaches the MediaSource to the element and waits until it takes a SourceBuffer. */
  async open(): Promise<void> {
    // ManagedMediaSource plays only with remote playback off (Safari).
    this.audio.disableRemotePlayback = true
    const opened = new Promise((resolve) => this.mediaSource.addEventListener('sourceopen', resolve, { once: true }))
    this.audio.src = this.url
    await opened
  }

  get buffered(): TimeRanges | undefined {
    try {
      return this.buffer?.buffered
    } catch {
      return undefined // the SourceBuffer was removed from its MediaSource
    }
  }

  /** The end of the buffered range holding `t` (or starting within `slack` after it), else undefined. */
  rangeEndAt(t: number, slack = 0): number | undefined {
    for (const [s, e] of ranges(this.buffered)) if (t >= s - slack && t < e) return e
    return undefined
  }

  /** Runs `op` on the SourceBuffer after every earlier operation, and waits for the update it starts. */
  run<T>(op: (sb: SourceBuffer) => T | Promise<T>): Promise<T> {
    const result = this.chain.then(async () => {
      const sb = this.buffer
      if (!sb || this.closed) throw new FeedClosed()
      await whenIdle(sb)
      if (this.closed) throw new FeedClosed()
      const value = await op(sb)
      await whenIdle(sb)
      return value
    })
    this.chain = result.catch(() => {})
    return result
  }

  /**
   * Sets up the SourceBuffer for the next bytes: created on first use, switched to another
   * codec with changeType() when the container changes, and placed on the timeline. Settings
   * change only between whole segments; a parser left inside one is reset first.
   */
  async place(mime: string, placement: Placement): Promise<void> {
    if (!this.buffer) {
      if (this.closed) throw new FeedClosed()
      this.buffer = this.mediaSource.addSourceBuffer(mime)
      this.mime = mime
    }
    await this.run((sb) => {
      const apply = () => {
        if (this.mime !== mime) {
          sb.changeType(mime)
          this.mime = mime
        }
        if (sb.mode !== placement.mode) sb.mode = placement.mode
        sb.timestampOffset = placement.timestampOffset
        // The window's start must stay below its end at every step.
        if (placement.windowStart >= sb.appendWindowEnd) {
          sb.appendWindowEnd = placement.windowEnd
          sb.appendWindowStart = placement.windowStart
        } else {
          sb.appendWindowStart = placement.windowStart
          sb.appendWindowEnd = placement.windowEnd
        }
      }
      try {
        apply()
      } catch (err) {
        if ((err as DOMException).name !== 'InvalidStateError') throw err
        sb.abort()
        apply()
      }
    })
  }

  /** True when this SourceBuffer can switch to `mime` (or already takes it). */
  canSwitchTo(mime: string): boolean {
    return this.mime === undefined || this.mime === mime || typeof this.buffer?.changeType === 'function'
  }

  /**
   * Appends bytes. When the browser's buffer is full (QuotaExceededError), played audio is
   * removed, or the append waits for the listener to play some, and tries again.
   */
  async append(bytes: Uint8Array): Promise<void> {
    for (;;) {
      try {
        await this.run(
          (sb) =>
            new Promise<void>((resolve, reject) => {
              const onError = () => {
                sb.removeEventListener('updateend', onEnd)
                reject(new Error('the browser could not decode the audio'))
              }
              const onEnd = () => {
                sb.removeEventListener('error', onError)
                resolve()
              }
              sb.addEventListener('updateend', onEnd, { once: true })
              sb.addEventListener('error', onError, { once: true })
              try {
                sb.appendBuffer(bytes as Uint8Array<ArrayBuffer>)
              } catch (err) {
                sb.removeEventListener('updateend', onEnd)
                sb.removeEventListener('error', onError)
                reject(err)
              }
            }),
        )
        return
      } catch (err) {
        if ((err as DOMException).name !== 'QuotaExceededError' || this.closed) throw err
        if (!(await this.evict(5))) await sleep(1000)
      }
    }
  }

  /** Removes buffered audio more than `keepBehindSec` behind the playhead; false when there was none. */
  async evict(keepBehindSec: number): Promise<boolean> {
    const cut = this.audio.currentTime - keepBehindSec
    const first = ranges(this.buffered)[0]
    if (!first || first[0] >= cut - 0.5) return false
    await this.run((sb) => sb.remove(first[0], cut))
    return true
  }

  /** Marks the end of the stream (the element ends after the last buffered audio). New appends reopen it. */
  async end(): Promise<void> {
    await this.run(() => {
      if (this.mediaSource.readyState === 'open') this.mediaSource.endOfStream()
    })
  }

  /** Detaches from the element; pending and later operations fail with FeedClosed. */
  close(): void {
    if (this.closed) return
    this.closed = true
    if (this.audio.src === this.url) {
      this.audio.removeAttribute('src')
      this.audio.load()
    }
    URL.revokeObjectURL(this.url)
  }
}
