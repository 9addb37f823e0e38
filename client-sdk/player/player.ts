import { startPoint } from '../../protocol/index.js'
import { type ChorusClient, type Playback, createClient, isChorusError } from '../index.browser.js'
import { type PrivacyMode, PICKABLE_MODES, iceKinds, modeAvailability, modeOptions, parseIceServers, startMode } from '../src/core/privacy.js'
import { type TrackTiming, appendPlan, clampCrossfade, crossfadeGains, durationSec, fadeSec, nextStartSec } from '../src/core/transition.js'
import { Feed, FeedClosed, type Placement, canPlayType, formatName, mediaSourceClass, ranges } from './decks.js'

/**
 * The web player: the SDK's browser build feeding <audio> elements through Media Source
 * Extensions. Everything the SDK decides (where chunks come from, verification, prefetch)
 * happens in the SDK; this file is the page and the audio timeline.
 *
 * Two ways from one track to the next (core/transition.ts does the arithmetic):
 * - gapless (crossfade 0): once the current track's stream is all appended, the next track is
 *   started through the SDK and appended into the same SourceBuffer right where the current one
 *   ends, priming and padding cut by the append window; the element never stops between them.
 * - crossfade (1-12 s): two decks, each an <audio> element with its own MediaSource, through
 *   WebAudio gain nodes; the next deck starts `crossfade` seconds before the current track ends
 *   under equal-power curves.
 */
interface Track {
  trackId: string
  title: string
  artist: string
  album: string
  durationMs: number
}

type Media = Awaited<Playback['media']>

/** One track's run on a deck's timeline. */
interface Segment {
  track: Track
  playback: Playback
  /** The track time (s) its stream starts at. */
  from: number
  media?: Media
  /** Timeline seconds of the track's time 0 on its deck. */
  origin: number
  /** Where its audio starts and ends on the timeline (the end is exact for AAC; for MP3 once all is appended). */
  startsAt: number
  endsAt: number
  /** Bytes of it reached the SourceBuffer. */
  appended: boolean
  /** Its whole stream is in the SourceBuffer. */
  complete: boolean
  failed: boolean
  stopped: boolean
  /** Its end was reported to its playback. */
  reportedEnd: boolean
  reader?: ReadableStreamDefaultReader<Uint8Array>
}

interface Deck {
  name: 'A' | 'B'
  audio: HTMLAudioElement
  feed?: Feed
  segments: Segment[]
  gain?: GainNode
  /** endOfStream() is under way. */
  ending: boolean
  /** The next track's codec cannot follow in this SourceBuffer (no changeType): it starts anew instead. */
  noChain: boolean
  evicting: boolean
}

/** A gapless next track is started this long before the current one ends (at once when that is less than its stream's arrival). */
const COMMIT_AHEAD_SEC = 20
/** A crossfade deck is loaded this long before its fade starts. */
const PREPARE_AHEAD_SEC = 20
/** Played audio kept in a SourceBuffer: past this much, all but the last KEEP_BEHIND_SEC is removed. */
const EVICT_AFTER_SEC = 90
const KEEP_BEHIND_SEC = 30
const CATALOG_REFRESH_MS = 5000
const CROSSFADE_KEY = 'chorus-crossfade'
/** The listener's peer-to-peer mode (core/privacy.ts), kept in this browser. */
const PRIVACY_KEY = 'chorus-privacy'

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T
const playButton = $<HTMLButtonElement>('play')
const seek = $<HTMLInputElement>('seek')
const crossfadeInput = $<HTMLInputElement>('crossfade')
const statusLine = $('status')
const decks: [Deck, Deck] = [
  { name: 'A', audio: $<HTMLAudioElement>('audio'), segments: [], ending: false, noChain: false, evicting: false },
  { name: 'B', audio: $<HTMLAudioElement>('audio-b'), segments: [], ending: false, noChain: false, evicting: false },
]
let active = 0
let client: ChorusClient
let catalog: Track[] = []
const queue: string[] = []
/** The track shown as playing: the one under the active deck's playhead. */
let now: Segment | undefined
/** Crossfade: the next track loaded on the other deck, waiting for its fade. */
let prepared: { deck: Deck; seg: Segment } | undefined
/** Crossfade under way: the deck fading out. */
let fade: { out: Deck; until: number } | undefined
/** WebAudio routing of both decks; null when the browser has none. Made on first use of crossfade. */
let graph: { ctx: AudioContext } | null | undefined
/** Bumped by every fresh start: work of an older start stops at its next step. */
let generation = 0
let seeking = false
let boundaryTimer: ReturnType<typeof setTimeout> | undefined
let volume = 0.8
const log: Array<{ type: string; deck?: string; t?: number; at: number; trackId?: string; detail?: string }> = []

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const fmtTime = (s: number) => `${Math.floor(s / 60)}:${String(Math.floor(s % 60)).padStart(2, '0')}`
const fmtBytes = (n: number) => (n >= 1e6 ? `${(n / 1e6).toFixed(1)} MB` : n >= 1e3 ? `${Math.round(n / 1e3)} kB` : `${n} B`)
const other = (deck: Deck) => (deck === decks[0] ? decks[1] : decks[0])
const activeDeck = () => decks[active]!

function say(text: string): void {
  statusLine.textContent = text
}

function note(type: string, deck?: Deck, trackId?: string, detail?: string): void {
  log.push({ type, at: performance.now(), ...(deck && { deck: deck.name, t: deck.audio.currentTime }), ...(trackId && { trackId }), ...(detail && { detail }) })
  if (log.length > 500) log.splice(0, log.length - 500)
}

/** The browser has no decoder (or no Media Source) for a track's audio. */
class Unplayable extends Error {
  constructor(readonly mime: string) {
    super(`cannot play ${mime}`)
  }
}

/** The next track's codec cannot go into the current SourceBuffer. */
class CannotChain extends Error {}

/** A plain-language line for what went wrong. */
function explain(err: unknown, track?: Track): string {
  if (err instanceof Unplayable) {
    const what = track ? `“${track.title}”` : 'This track'
    return `${what} cannot play in this browser: it does not play ${formatName(err.mime)} through Media Source Extensions. A current Chrome, Edge, Firefox or Safari can.`
  }
  if (!isChorusError(err)) return `Something went wrong: ${String((err as Error)?.message ?? err)}`
  switch (err.code) {
    case 'not_found':
      return 'That track is not in the catalog any more.'
    case 'no_key':
    case 'unauthorized':
      return 'This player is not allowed to play that track (its key was refused).'
    case 'all_sources_down':
      return 'Cannot reach the music servers or any listener who has this track. Check the connection and try again.'
    case 'invalid_manifest':
      return 'The track information failed its signature check, so it was not played.'
    default:
      return `Playback stopped (${err.code}).`
  }
}

const NO_MSE = 'This browser cannot play streamed audio: it has no Media Source Extensions. A current Chrome, Edge, Firefox or Safari can.'

// ---------------------------------------------------------------------------------------------
// The catalog and the queue

/** Catalog rows by track, kept across refreshes so focus and playback are never disturbed. */
const rows = new Map<string, HTMLLIElement>()

function catalogRow(t: Track): HTMLLIElement {
  const li = document.createElement('li')
  li.dataset.track = t.trackId
  const label = document.createElement('span')
  label.innerHTML = `<span class="title"></span> <span class="meta"></span>`
  const actions = document.createElement('span')
  actions.className = 'actions'
  const play = document.createElement('button')
  play.type = 'button'
  play.textContent = 'Play'
  play.addEventListener('click', () => {
    const track = catalog.find((x) => x.trackId === t.trackId)
    if (track) void hardStart(track)
  })
  const add = document.createElement('button')
  add.type = 'button'
  add.textContent = 'Queue'
  add.addEventListener('click', () => {
    queue.push(t.trackId)
    syncQueue()
  })
  actions.append(play, add)
  li.append(label, actions)
  return li
}

function renderCatalog(): void {
  const list = $('catalog')
  if (!catalog.length) {
    rows.clear()
    list.innerHTML = '<li class="empty">No tracks yet. New tracks show up here as they are added.</li>'
    return
  }
  for (const child of [...list.children]) if (!(child as HTMLElement).dataset.track) child.remove()
  const ids = new Set(catalog.map((t) => t.trackId))
  for (const [id, li] of rows) {
    if (!ids.has(id)) {
      li.remove()
      rows.delete(id)
    }
  }
  catalog.forEach((t, i) => {
    let li = rows.get(t.trackId)
    if (!li) {
      li = catalogRow(t)
      rows.set(t.trackId, li)
    }
    const title = li.querySelector('.title')!
    const meta = li.querySelector('.meta')!
    const metaText = `${t.artist} · ${fmtTime(t.durationMs / 1000)}`
    if (title.textContent !== t.title) title.textContent = t.title
    if (meta.textContent !== metaText) meta.textContent = metaText
    const [play, add] = li.querySelectorAll('button')
    play!.setAttribute('aria-label', `Play ${t.title}`)
    add!.setAttribute('aria-label', `Add ${t.title} to the queue`)
    li.classList.toggle('playing', now?.track.trackId === t.trackId)
    // Only rows out of place move (a new track in the middle): the rest stay as they are.
    if (list.children[i] !== li) list.insertBefore(li, list.children[i] ?? null)
  })
}

const trackById = (id: string | undefined) => (id === undefined ? undefined : catalog.find((t) => t.trackId === id))

/** The track after `seg`: the head of the queue, else the next in catalog order. */
function trackAfter(seg: Segment | undefined): Track | undefined {
  if (queue.length) return trackById(queue[0])
  if (!seg) return undefined
  const at = catalog.findIndex((t) => t.trackId === seg.track.trackId)
  return at >= 0 ? catalog[at + 1] : undefined
}

/** The last track committed to play: a prepared crossfade deck, else the last on the active deck. */
function lastCommitted(): Segment | undefined {
  return prepared?.seg ?? activeDeck().segments.at(-1) ?? now
}

/** A committed track after the one playing (gapless, already in the SourceBuffer, or a prepared deck). */
function pendingAfterNow(): Segment | undefined {
  if (prepared) return prepared.seg
  const segs = activeDeck().segments
  const i = now ? segs.indexOf(now) : -1
  return i >= 0 ? segs[i + 1] : undefined
}

/** The tracks coming next (for the SDK's prefetch): the queue, else the catalog order after the last committed track. */
function upcoming(): string[] {
  if (queue.length) return [...queue]
  const last = lastCommitted()
  if (!last) return []
  const at = catalog.findIndex((t) => t.trackId === last.track.trackId)
  return at >= 0 ? catalog.slice(at + 1, at + 4).map((t) => t.trackId) : []
}

let lastHint = ''
function syncQueue(): void {
  const ids = upcoming()
  if (client && ids.join() !== lastHint) {
    lastHint = ids.join()
    client.queue(ids)
  }
  const list = $('queue')
  if (!queue.length) {
    list.innerHTML = '<li class="empty">The queue is empty: the next catalog track plays.</li>'
    return
  }
  list.replaceChildren(
    ...queue.map((id, i) => {
      const li = document.createElement('li')
      const t = trackById(id)
      li.textContent = t ? `${t.title} · ${t.artist}` : id
      const remove = document.createElement('button')
      remove.type = 'button'
      remove.textContent = 'Remove'
      remove.setAttribute('aria-label', `Remove ${t?.title ?? id} from the queue`)
      remove.addEventListener('click', () => {
        queue.splice(i, 1)
        syncQueue()
      })
      li.append(remove)
      return li
    }),
  )
}

async function refreshCatalog(): Promise<void> {
  try {
    const list = await client.catalog()
    const next = list.map(({ trackId, title, artist, album, durationMs }) => ({ trackId, title, artist, album, durationMs }))
    const changed = JSON.stringify(next) !== JSON.stringify(catalog)
    catalog = next
    if (changed) {
      renderCatalog()
      syncQueue()
    }
  } catch (err) {
    if (!catalog.length) say(explain(err))
  }
}

// ---------------------------------------------------------------------------------------------
// Decks and their timelines

const trackDuration = (seg: Segment) => (seg.media ? durationSec(seg.media.timing) : seg.track.durationMs / 1000)
const segStart = (deck: Deck, seg: Segment) => (deck.segments[0] === seg ? -Infinity : seg.startsAt)
const deckOf = (seg: Segment) => decks.find((d) => d.segments.includes(seg))

/** The segment under timeline time `t` of a deck. */
function segmentAt(deck: Deck, t: number): Segment | undefined {
  let found: Segment | undefined
  for (const seg of deck.segments) if (t >= segStart(deck, seg) - 0.0005) found = seg
  return found
}

function setGain(deck: Deck, value: number): void {
  const p = deck.gain?.gain
  if (!p) return
  p.cancelScheduledValues(0)
  p.value = value
}

/** Routes both decks through WebAudio gain nodes (once: an element routed stays routed). */
function ensureGraph(): { ctx: AudioContext } | undefined {
  if (graph !== undefined) return graph ?? undefined
  const AC = window.AudioContext ?? (window as unknown as { webkitAudioContext?: typeof AudioContext }).webkitAudioContext
  if (!AC) {
    graph = null
    return undefined
  }
  try {
    const ctx = new AC()
    for (const d of decks) {
      const gain = ctx.createGain()
      gain.gain.value = d === activeDeck() ? 1 : 0
      ctx.createMediaElementSource(d.audio).connect(gain).connect(ctx.destination)
      d.gain = gain
    }
    graph = { ctx }
  } catch {
    graph = null
  }
  return graph ?? undefined
}

function crossfadeSec(): number {
  return clampCrossfade(Number(crossfadeInput.value))
}

/** Crossfade when one is set and WebAudio can carry it (the graph is made at a start or a change of the setting, user gestures both); else gapless. */
const crossfading = () => crossfadeSec() > 0 && graph !== null

function stopSegment(seg: Segment): void {
  seg.stopped = true
  void seg.reader?.cancel().catch(() => {})
  seg.playback.stop()
}

function clearDeck(deck: Deck): void {
  // Logged here: the element's own 'pause' is dropped when its source goes in the same task.
  if (deck.feed) note('stop', deck)
  for (const seg of deck.segments) stopSegment(seg)
  deck.segments = []
  deck.audio.pause()
  deck.feed?.close()
  deck.feed = undefined
  deck.ending = false
  deck.noChain = false
}

function newSegment(track: Track, from: number, at: number): Segment {
  const playback = client.play(track.trackId, { from, context: { tracks: catalog.map((t) => t.trackId) } })
  const seg: Segment = {
    track,
    playback,
    from,
    origin: at,
    startsAt: at,
    endsAt: at + track.durationMs / 1000,
    appended: false,
    complete: false,
    failed: false,
    stopped: false,
    reportedEnd: false,
  }
  playback.on('stall', () => seg === now && say('Waiting for audio… (the network is slower than the music)'))
  playback.on('resume', () => seg === now && say(''))
  playback.on('error', (err) => segmentFailed(seg, err))
  return seg
}

/**
 * Where a segment goes on its deck's timeline. AAC: the transition core's append plan, its
 * first real sample at `origin` (0 on a fresh MediaSource: fragments land at their own time, so
 * a stream from a later fragment after a seek lands right). MP3 has no gapless data: its frames
 * follow one another in 'sequence' mode from the start point's time (fresh) or from `origin`.
 */
function placement(seg: Segment, media: Media, fresh: boolean): Placement {
  if (media.quality.codec === 'aac') {
    const plan = appendPlan(media.timing, seg.origin)
    seg.startsAt = plan.startsAt
    seg.endsAt = plan.endsAt
    return { mode: 'segments', timestampOffset: plan.timestampOffset, windowStart: plan.appendWindowStart, windowEnd: plan.appendWindowEnd }
  }
  const start = fresh ? startPoint(media.quality, seg.from * 1000).timeMs / 1000 : seg.origin
  seg.endsAt = seg.origin + durationSec(media.timing)
  return { mode: 'sequence', timestampOffset: start, windowStart: fresh ? 0 : seg.origin, windowEnd: Infinity }
}

/** Feeds a segment's stream into its deck's SourceBuffer, from its placement to the end. */
async function loadSegment(deck: Deck, seg: Segment, fresh: boolean): Promise<void> {
  const feed = deck.feed
  try {
    if (!feed) throw new FeedClosed()
    const media = await seg.playback.media
    if (seg.stopped) return
    seg.media = media
    if (!canPlayType(media.mimeType)) throw new Unplayable(media.mimeType)
    if (!feed.canSwitchTo(media.mimeType)) throw new CannotChain()
    await feed.place(media.mimeType, placement(seg, media, fresh))
    note('place', deck, seg.track.trackId, media.mimeType)
    const reader = seg.playback.stream.getReader()
    seg.reader = reader
    for (;;) {
      const { value, done } = await reader.read()
      if (done || seg.stopped) break
      await feed.append(value)
      seg.appended = true
    }
    if (seg.stopped) return
    seg.complete = true
    if (media.quality.codec !== 'aac') {
      const end = ranges(feed.buffered).at(-1)?.[1]
      if (end !== undefined) seg.endsAt = end
    }
    note('appended', deck, seg.track.trackId)
    tick()
  } catch (err) {
    if (seg.stopped || err instanceof FeedClosed) return
    if (err instanceof CannotChain) {
      // This browser's SourceBuffer cannot change codec: the track starts anew when this one ends.
      stopSegment(seg)
      deck.segments = deck.segments.filter((s) => s !== seg)
      queue.unshift(seg.track.trackId)
      syncQueue()
      deck.noChain = true
      void feed?.end().catch(() => {})
      return
    }
    segmentFailed(seg, err)
  }
}

function segmentFailed(seg: Segment, err: unknown): void {
  if (seg.failed || seg.stopped) return
  seg.failed = true
  note('error', deckOf(seg), seg.track.trackId, `${(err as { code?: string }).code ?? ''} ${(err as Error)?.message ?? String(err)}`)
  const deck = deckOf(seg)
  if (seg === now) say(explain(err, seg.track))
  else say(`The next track, “${seg.track.title}”, could not be loaded. ${explain(err, seg.track)}`)
  stopSegment(seg)
  if (prepared?.seg === seg) {
    prepared = undefined
    if (deck) clearDeck(deck)
    return
  }
  if (!deck) return
  // Nothing more follows it on this deck: the element ends where the audio ends, then moves on.
  if (seg !== now && !seg.appended) deck.segments = deck.segments.filter((s) => s !== seg)
  deck.noChain = true
  void deck.feed?.end().catch(() => {})
}

function setNow(seg: Segment, deck: Deck): void {
  now = seg
  const t = seg.track
  $('now').textContent = `${t.title} · ${t.artist}${t.album ? ` · ${t.album}` : ''}`
  seek.max = String(Math.floor(trackDuration(seg)))
  for (const [id, li] of rows) li.classList.toggle('playing', id === t.trackId)
  note('now', deck, t.trackId)
  syncQueue()
}

/** Starts a track on a fresh MediaSource (a click, a seek outside the buffer, the end of everything appended). */
async function hardStart(track: Track, from = 0): Promise<void> {
  const gen = ++generation
  if (crossfadeSec() > 0) ensureGraph()
  void graph?.ctx.resume().catch(() => {})
  prepared = undefined
  fade = undefined
  for (const d of decks) clearDeck(d)
  const deck = activeDeck()
  setGain(deck, 1)
  setGain(other(deck), 0)
  const qi = queue.indexOf(track.trackId)
  if (qi === 0) queue.shift()
  if (!mediaSourceClass()) {
    say(NO_MSE)
    return
  }
  const seg = newSegment(track, from, 0)
  deck.segments.push(seg)
  setNow(seg, deck)
  say('Starting…')
  const feed = new Feed(deck.audio)
  deck.feed = feed
  await feed.open()
  if (gen !== generation) return
  void loadSegment(deck, seg, true)
  try {
    const s = await seg.playback.ready
    if (gen !== generation) return
    say(s.fromCache ? 'Playing from this browser’s cache.' : '')
    // The start position once audio from there is buffered: set earlier, the element clamps it
    // to the duration known then (an init segment's, zero).
    while (from > 0 && gen === generation && !seg.failed && !seg.complete && !ranges(feed.buffered).some(([, end]) => end > from)) await sleep(50)
    if (gen !== generation) return
    deck.audio.volume = volume
    if (from > 0) deck.audio.currentTime = Math.max(from, ranges(feed.buffered)[0]?.[0] ?? from)
    await deck.audio.play().catch(() => gen === generation && say('Press Play to start the audio (the browser blocked autoplay).'))
  } catch (err) {
    if (gen === generation && !seg.failed && !(err instanceof FeedClosed)) say(explain(err, track))
  }
}

/** Gapless: appends the next track after the last one on the deck, into the same SourceBuffer. */
function commitNext(deck: Deck, track: Track): void {
  const last = deck.segments.at(-1)!
  const seg = newSegment(track, 0, last.endsAt)
  deck.segments.push(seg)
  if (queue[0] === track.trackId) queue.shift()
  note('commit', deck, track.trackId)
  syncQueue()
  void loadSegment(deck, seg, false)
}

/** Crossfade: loads the next track on the other deck, silent and paused until its fade. */
async function prepare(deck: Deck, track: Track): Promise<void> {
  const gen = generation
  ensureGraph()
  clearDeck(deck)
  setGain(deck, 0)
  const seg = newSegment(track, 0, 0)
  deck.segments.push(seg)
  prepared = { deck, seg }
  if (queue[0] === track.trackId) queue.shift()
  note('prepare', deck, track.trackId)
  syncQueue()
  const feed = new Feed(deck.audio)
  deck.feed = feed
  await feed.open()
  if (gen !== generation || prepared?.seg !== seg) return
  void loadSegment(deck, seg, true)
}

function beginFade(): void {
  if (!prepared) return
  const out = activeDeck()
  const { deck: inDeck, seg } = prepared
  const cur = now
  prepared = undefined
  const len = cur?.media && seg.media ? fadeSec(cur.media.timing, seg.media.timing, crossfadeSec()) : 0
  active = decks.indexOf(inDeck)
  inDeck.audio.volume = volume
  void inDeck.audio.play().catch(() => {})
  const ctx = graph?.ctx
  if (ctx && len > 0 && out.gain && inDeck.gain) {
    const n = Math.max(2, Math.ceil(len * 60))
    const outCurve = new Float32Array(n)
    const inCurve = new Float32Array(n)
    for (let i = 0; i < n; i++) {
      const g = crossfadeGains((i / (n - 1)) * len, len)
      outCurve[i] = g.out
      inCurve[i] = g.in
    }
    const at = ctx.currentTime
    for (const [deck, curve] of [
      [out, outCurve],
      [inDeck, inCurve],
    ] as const) {
      deck.gain!.gain.cancelScheduledValues(0)
      deck.gain!.gain.setValueCurveAtTime(curve, at, len)
    }
  } else {
    setGain(inDeck, 1)
    setGain(out, 0)
  }
  fade = { out, until: performance.now() + len * 1000 }
  note('fade', out, seg.track.trackId)
  setNow(seg, inDeck)
}

/** The fading deck is done: its track's end is reported and its MediaSource let go. */
function finishFade(): void {
  if (!fade) return
  const { out } = fade
  fade = undefined
  for (const seg of out.segments) {
    if (!seg.reportedEnd && seg.media) seg.playback.reportPosition(trackDuration(seg))
    seg.reportedEnd = true
  }
  clearDeck(out)
  setGain(out, 0)
}

/** Tells each playback where the listener is in its track. */
function reportPositions(deck: Deck): void {
  if (!deck.feed) return
  const t = deck.audio.currentTime
  for (const seg of deck.segments) {
    if (seg.reportedEnd || seg.stopped || seg.failed) continue
    if (t < segStart(deck, seg)) {
      seg.playback.reportPosition(seg.from)
      continue
    }
    seg.playback.reportPosition(Math.min(trackDuration(seg), Math.max(0, t - seg.origin)))
    if (seg.complete && t >= seg.endsAt - 0.001) seg.reportedEnd = true
  }
  // Tracks played through and left behind are forgotten (their audio goes with eviction).
  const keep = deck.segments.filter((s) => !(s.reportedEnd && s !== now && s !== deck.segments.at(-1)))
  if (keep.length !== deck.segments.length) deck.segments = keep
}

function evictPlayed(deck: Deck): void {
  const feed = deck.feed
  const first = ranges(feed?.buffered)[0]
  if (!feed || !first || deck.evicting || deck.audio.currentTime - first[0] < EVICT_AFTER_SEC) return
  deck.evicting = true
  void feed
    .evict(KEEP_BEHIND_SEC)
    .catch(() => {})
    .finally(() => (deck.evicting = false))
}

/** Gapless: starts the next track once the current stream is in and its end is near; ends the stream when nothing follows. */
function gaplessStep(deck: Deck): void {
  const last = deck.segments.at(-1)
  const feed = deck.feed
  if (!last || !feed || feed.closed || !last.complete || last.failed || deck.noChain || deck.audio.ended) return
  const next = trackAfter(last)
  if (next && last.endsAt - deck.audio.currentTime < COMMIT_AHEAD_SEC) commitNext(deck, next)
  else if (!next && feed.mediaSource.readyState === 'open' && !deck.ending) {
    deck.ending = true
    void feed
      .end()
      .catch(() => {})
      .finally(() => (deck.ending = false))
  }
}

/** Crossfade: loads the next deck ahead of time and starts its fade at nextStartSec of the current track. */
function crossfadeStep(deck: Deck): void {
  const cur = now
  if (!cur || fade || deckOf(cur) !== deck || !cur.complete || !cur.media) return
  if (deck.segments.at(-1) !== cur) return // a gapless join is already in the SourceBuffer
  const feed = deck.feed
  if (feed && feed.mediaSource.readyState === 'open' && !deck.ending) {
    // One track per deck: the element ends after it.
    deck.ending = true
    void feed
      .end()
      .catch(() => {})
      .finally(() => (deck.ending = false))
  }
  const startAt = cur.origin + nextStartSec(cur.media.timing, crossfadeSec())
  const t = deck.audio.currentTime
  if (!prepared) {
    const next = trackAfter(cur)
    if (next && startAt - t < PREPARE_AHEAD_SEC) void prepare(other(deck), next)
    return
  }
  if (t >= startAt && prepared.seg.media) beginFade()
}

/** The playhead's bookkeeping, five times a second and at each track boundary. */
function tick(): void {
  const deck = activeDeck()
  if (!fade) {
    const seg = segmentAt(deck, deck.audio.currentTime)
    if (seg && seg !== now) setNow(seg, deck)
  } else {
    // The deck fading out is done when its track is (or long after its fade, should it hang).
    const out = fade.out
    const outSeg = out.segments[0]
    if (!outSeg || out.audio.ended || out.audio.currentTime >= outSeg.endsAt - 0.01 || performance.now() > fade.until + 15_000) finishFade()
  }
  for (const d of decks) reportPositions(d)
  if (prepared || crossfading()) crossfadeStep(deck)
  else gaplessStep(deck)
  for (const d of decks) evictPlayed(d)
  // The next boundary on this timeline gets a tick of its own, so the page follows it to the millisecond's order.
  const t = deck.audio.currentTime
  const upcomingStart = deck.segments.map((s) => s.startsAt).find((s) => s > t && s - t < 1)
  if (upcomingStart !== undefined && !boundaryTimer && !deck.audio.paused) {
    boundaryTimer = setTimeout(
      () => {
        boundaryTimer = undefined
        tick()
      },
      ((upcomingStart - t) / (deck.audio.playbackRate || 1)) * 1000 + 2,
    )
  }
}

/** The next track now: what is already lined up, else the queue, else the catalog. */
function next(): void {
  const pending = pendingAfterNow()
  const track = pending?.track ?? trackAfter(now) ?? catalog[0]
  if (track) void hardStart(track)
}

/** Position within the playing track, seconds. */
function position(): number {
  if (!now) return 0
  const deck = deckOf(now)
  if (!deck) return 0
  return Math.max(0, Math.min(trackDuration(now), deck.audio.currentTime - now.origin))
}

function refresh(): void {
  const deck = activeDeck()
  const pos = position()
  const dur = now ? trackDuration(now) : 0
  if (!seeking && now) seek.value = String(Math.floor(pos))
  seek.setAttribute('aria-valuetext', `${fmtTime(pos)} of ${fmtTime(dur)}`)
  $('time').textContent = `${fmtTime(pos)} / ${fmtTime(dur)}`
  playButton.textContent = deck.audio.paused ? 'Play' : 'Pause'
  playButton.setAttribute('aria-label', deck.audio.paused ? 'Play' : 'Pause')
  const s = now?.playback.stats()
  if (!s || !now) return
  $('ttfa').textContent = s.timeToFirstAudioMs === null ? '…' : `${Math.round(s.timeToFirstAudioMs)} ms${s.prefetched ? ' (prefetched)' : ''}`
  const t = deck.audio.currentTime
  const end = deck.feed?.rangeEndAt(t, 0.2)
  $('buffer').textContent = `${Math.max(0, Math.min(end ?? t, now.endsAt) - t).toFixed(1)} s`
  const codec = now.media ? ` ${now.media.quality.codec === 'aac' ? 'AAC' : 'MP3'}` : ''
  $('quality').textContent = `${s.bitrate} kbit/s${codec}`
  $('peers').textContent = String(s.peersConnected)
  const total = s.bytes.cache + s.bytes.peer + s.bytes.edge || 1
  const spans = $('bar').querySelectorAll('span')
  ;(['cache', 'peer', 'edge'] as const).forEach((k, i) => {
    ;(spans[i] as HTMLElement).style.width = `${(100 * s.bytes[k]) / total}%`
  })
  const legend = `cache ${fmtBytes(s.bytes.cache)} · peers ${fmtBytes(s.bytes.peer)} · edge ${fmtBytes(s.bytes.edge)}`
  $('bar-legend').textContent = legend
  $('bar').setAttribute('aria-label', legend)
}

function showCrossfade(): void {
  const sec = crossfadeSec()
  const text = sec > 0 ? `${sec} s` : 'Off (gapless)'
  $('crossfade-value').textContent = text
  crossfadeInput.setAttribute('aria-valuetext', sec > 0 ? `${sec} seconds` : 'off, gapless')
}

/** What tests and scripts read: the decks, their timelines and what the page did. */
function snapshot() {
  return {
    now: now?.track.trackId,
    title: $('now').textContent,
    crossfade: crossfadeSec(),
    active: activeDeck().name,
    decks: decks.map((d) => ({
      name: d.name,
      currentTime: d.audio.currentTime,
      paused: d.audio.paused,
      ended: d.audio.ended,
      readyState: d.feed?.mediaSource.readyState ?? 'closed',
      mime: d.feed?.mime,
      buffered: ranges(d.feed?.buffered),
      gain: d.gain ? d.gain.gain.value : null,
      segments: d.segments.map((s) => ({
        trackId: s.track.trackId,
        origin: s.origin,
        startsAt: s.startsAt,
        endsAt: s.endsAt,
        complete: s.complete,
        codec: s.media?.quality.codec,
        timing: s.media?.timing as TrackTiming | undefined,
      })),
    })),
  }
}

// ---------------------------------------------------------------------------------------------
// Peer-to-peer mode: what this listener shares (core/privacy.ts has the rules)

interface PageConfig {
  tracker?: string
  origin?: string
  apiKey: string
  publicKey?: string
  p2p?: boolean
  iceServers?: unknown
}

const MODE_NAMES: Record<PrivacyMode, string> = {
  direct: 'P2P on',
  'download-only': 'Download only',
  'relay-only': 'Relay only',
  off: 'Off',
}
const MODE_LINES: Record<PrivacyMode, string> = {
  direct: 'sharing with other listeners, both ways',
  'download-only': 'taking from other listeners, serving nobody (nothing uploaded)',
  'relay-only': 'other listeners reached only through the relay (TURN) server',
  off: 'no other listeners: music servers and cache only',
}

const privacyRadios = () => [...document.querySelectorAll<HTMLInputElement>('input[name="privacy"]')]
let switching = false

/** The client for a mode: a change of mode is a new client (its options are fixed at creation). */
function clientFor(config: PageConfig, iceServers: RTCIceServer[], mode: PrivacyMode): Promise<ChorusClient> {
  // Keys from the key service (the origin) only: the edge neither holds nor forwards them.
  if (!config.origin) throw new Error('this page’s config.json names no key service (origin), so it cannot get track keys')
  const o = modeOptions(mode)
  const p2p = o.p2p && !!config.tracker && config.p2p !== false
  return createClient({
    edge: location.origin,
    keys: config.origin,
    ...(p2p && { tracker: config.tracker }),
    p2p,
    ...(o.upload === false && { upload: false as const }),
    ...(o.relayOnly && { relayOnly: true }),
    ...(iceServers.length > 0 && { iceServers }),
    apiKey: config.apiKey,
    ...(config.publicKey && { publicKey: config.publicKey }),
  })
}

/** Shows the mode the client holds (its own stats, not the radio: they agree unless something refused). */
function showPrivacy(extra = ''): void {
  const mode = client.stats().privacy.mode
  for (const r of privacyRadios()) r.checked = r.value === mode
  const line = $('privacy-status')
  line.dataset.mode = mode
  line.textContent = `Mode: ${MODE_NAMES[mode]}, ${MODE_LINES[mode]}.${extra ? ` ${extra}` : ''}`
}

async function setUpPrivacy(config: PageConfig): Promise<void> {
  const parsed = parseIceServers(config.iceServers ?? [])
  const iceServers = parsed instanceof Error ? [] : parsed
  const p2p = !!config.tracker && config.p2p !== false
  const available = modeAvailability({ p2p, turn: iceKinds(iceServers).turn })
  let saved: string | null = null
  try {
    saved = localStorage.getItem(PRIVACY_KEY)
  } catch {}
  const start = startMode(saved, { p2p, turn: iceKinds(iceServers).turn })
  for (const r of privacyRadios()) {
    const why = available[r.value as PrivacyMode]
    r.disabled = why !== true
    if (why !== true && r.value === 'relay-only') {
      const note = $('privacy-relay-only-why')
      note.textContent = `Not available: ${why}${parsed instanceof Error ? ` (its iceServers are invalid: ${parsed.message})` : ''}.`
      note.hidden = false
    }
  }
  client = await clientFor(config, iceServers, start.mode)
  showPrivacy(start.fellBack ? `(${MODE_NAMES[saved as PrivacyMode]} is not available here now.)` : '')
  $<HTMLFieldSetElement>('privacy').disabled = false
  $('privacy').addEventListener('change', (e) => {
    const mode = (e.target as HTMLInputElement).value as PrivacyMode
    if (!(PICKABLE_MODES as readonly string[]).includes(mode) || switching) return
    try {
      localStorage.setItem(PRIVACY_KEY, mode)
    } catch {}
    void switchMode(config, iceServers, mode)
  })
}

/**
 * A new client in the chosen mode: the old one is closed first (it leaves its swarms, and its
 * cache is let go before the new one opens it), and the track playing goes on from where it was.
 */
async function switchMode(config: PageConfig, iceServers: RTCIceServer[], mode: PrivacyMode): Promise<void> {
  switching = true
  const fieldset = $<HTMLFieldSetElement>('privacy')
  fieldset.disabled = true
  $('privacy-status').textContent = `Mode: switching to ${MODE_NAMES[mode]}…`
  const resume = now ? { track: now.track, at: position(), paused: activeDeck().audio.paused } : undefined
  generation++
  prepared = undefined
  fade = undefined
  for (const d of decks) clearDeck(d)
  try {
    await client.close()
    client = await clientFor(config, iceServers, mode)
    lastHint = ''
    note('privacy', undefined, undefined, mode)
    showPrivacy()
    if (resume && !resume.paused) await hardStart(resume.track, Math.floor(resume.at))
  } catch (err) {
    $('privacy-status').textContent = `Mode: could not switch to ${MODE_NAMES[mode]}: ${isChorusError(err) ? err.message : String(err)}. Reload the page.`
  } finally {
    switching = false
    fieldset.disabled = false
  }
}

async function main(): Promise<void> {
  try {
    const saved = localStorage.getItem(CROSSFADE_KEY)
    if (saved !== null) crossfadeInput.value = String(clampCrossfade(Number(saved)))
  } catch {}
  showCrossfade()
  crossfadeInput.addEventListener('input', () => {
    showCrossfade()
    try {
      localStorage.setItem(CROSSFADE_KEY, String(crossfadeSec()))
    } catch {}
    // A user gesture: the audio context may start now.
    if (crossfadeSec() > 0)
      void ensureGraph()
        ?.ctx.resume()
        .catch(() => {})
  })
  const config = (await (await fetch('config.json')).json()) as PageConfig
  await setUpPrivacy(config)
  // For scripts and tests driving the page.
  ;(window as unknown as { chorus: unknown }).chorus = {
    // A getter: a change of mode replaces the client.
    get client() {
      return client
    },
    stats: () => now?.playback.stats(),
    currentTime: position,
    state: snapshot,
    log,
  }
  if (!mediaSourceClass()) say(NO_MSE)
  await refreshCatalog()
  renderCatalog()
  setInterval(() => void refreshCatalog(), CATALOG_REFRESH_MS)
  playButton.addEventListener('click', () => {
    if (!now) {
      void graph?.ctx.resume().catch(() => {})
      return next()
    }
    const deck = activeDeck()
    const playing = [deck, ...(fade ? [fade.out] : [])]
    // The audio context stops with the music, so a fade under way goes on from where it was.
    if (deck.audio.paused) {
      void graph?.ctx.resume().catch(() => {})
      for (const d of playing) void d.audio.play().catch(() => {})
    } else {
      for (const d of playing) d.audio.pause()
      if (fade) void graph?.ctx.suspend().catch(() => {})
    }
  })
  $('next').addEventListener('click', next)
  for (const deck of decks) {
    for (const type of ['playing', 'pause', 'stalled', 'seeking']) deck.audio.addEventListener(type, () => note(type, deck))
    // With the buffered audio ahead: none is a gap in the timeline, some is the decoder falling behind.
    deck.audio.addEventListener('waiting', () => {
      const t = deck.audio.currentTime
      note('waiting', deck, undefined, `ahead ${Math.max(0, (deck.feed?.rangeEndAt(t) ?? t) - t).toFixed(3)}`)
    })
    deck.audio.addEventListener('ended', () => {
      note('ended', deck)
      if (deck !== activeDeck()) {
        if (fade?.out === deck) finishFade()
        return
      }
      if (prepared) beginFade()
      else next()
    })
  }
  $<HTMLInputElement>('volume').addEventListener('input', (e) => {
    volume = Number((e.target as HTMLInputElement).value)
    for (const d of decks) d.audio.volume = volume
  })
  for (const d of decks) d.audio.volume = volume
  seek.addEventListener('input', () => (seeking = true))
  seek.addEventListener('change', () => {
    seeking = false
    const seg = now
    if (!seg) return
    const deck = deckOf(seg)
    const to = Number(seek.value)
    const target = seg.origin + to
    // Within what is buffered of this track: just move there. Elsewhere: the track starts anew from there.
    if (deck && !fade && target >= segStart(deck, seg) && target < seg.endsAt && deck.feed?.rangeEndAt(target) !== undefined) {
      deck.audio.currentTime = target
      seg.playback.reportPosition(to)
      return
    }
    void hardStart(seg.track, to)
  })
  document.addEventListener('keydown', (e) => {
    if ((e.target as HTMLElement).tagName === 'INPUT' || (e.target as HTMLElement).tagName === 'BUTTON') return
    if (e.key === ' ') {
      e.preventDefault()
      playButton.click()
    } else if (e.key === 'n') next()
  })
  setInterval(tick, 200)
  setInterval(refresh, 500)
}

main().catch((err) => say(explain(err)))
