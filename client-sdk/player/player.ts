import { type ChorusClient, type Playback, createClient, isChorusError } from '../index.browser.js'

/**
 * The web player: the SDK's browser build feeding an <audio> element through Media Source
 * Extensions. Everything the SDK decides (where chunks come from, verification, prefetch)
 * happens in the SDK; this file is only the page.
 */
interface Track {
  trackId: string
  title: string
  artist: string
  album: string
  durationMs: number
}

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T
const audio = $<HTMLAudioElement>('audio')
const playButton = $<HTMLButtonElement>('play')
const seek = $<HTMLInputElement>('seek')
const statusLine = $('status')
let client: ChorusClient
let catalog: Track[] = []
const queue: string[] = []
let current: { track: Track; playback: Playback; from: number } | undefined
let seeking = false

const fmtTime = (s: number) => `${Math.floor(s / 60)}:${String(Math.floor(s % 60)).padStart(2, '0')}`
const fmtBytes = (n: number) => (n >= 1e6 ? `${(n / 1e6).toFixed(1)} MB` : n >= 1e3 ? `${Math.round(n / 1e3)} kB` : `${n} B`)

function say(text: string): void {
  statusLine.textContent = text
}

/** A plain-language line for what went wrong. */
function explain(err: unknown): string {
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

function renderCatalog(): void {
  const list = $('catalog')
  list.replaceChildren(
    ...catalog.map((t) => {
      const li = document.createElement('li')
      li.dataset.track = t.trackId
      if (current?.track.trackId === t.trackId) li.classList.add('playing')
      const label = document.createElement('span')
      label.innerHTML = `<span class="title"></span> <span class="meta"></span>`
      label.querySelector('.title')!.textContent = t.title
      label.querySelector('.meta')!.textContent = `${t.artist} · ${fmtTime(t.durationMs / 1000)}`
      const actions = document.createElement('span')
      actions.className = 'actions'
      const play = document.createElement('button')
      play.type = 'button'
      play.textContent = 'Play'
      play.setAttribute('aria-label', `Play ${t.title}`)
      play.addEventListener('click', () => void start(t))
      const add = document.createElement('button')
      add.type = 'button'
      add.textContent = 'Queue'
      add.setAttribute('aria-label', `Add ${t.title} to the queue`)
      add.addEventListener('click', () => {
        queue.push(t.trackId)
        syncQueue()
      })
      actions.append(play, add)
      li.append(label, actions)
      return li
    }),
  )
}

/** The tracks coming next: the queue, else the catalog order after the current track. */
function upcoming(): string[] {
  if (queue.length) return [...queue]
  if (!current) return []
  const at = catalog.findIndex((t) => t.trackId === current!.track.trackId)
  return catalog.slice(at + 1, at + 4).map((t) => t.trackId)
}

function syncQueue(): void {
  client?.queue(upcoming())
  const list = $('queue')
  if (!queue.length) {
    list.innerHTML = '<li class="empty">The queue is empty: the next catalog track plays.</li>'
    return
  }
  list.replaceChildren(
    ...queue.map((id, i) => {
      const li = document.createElement('li')
      const t = catalog.find((x) => x.trackId === id)
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

/** Feeds the playback's stream into a SourceBuffer, one append at a time. */
async function feed(playback: Playback, mediaSource: MediaSource, from: number): Promise<void> {
  const buffer = mediaSource.addSourceBuffer('audio/mpeg')
  buffer.mode = 'sequence'
  buffer.timestampOffset = from
  const reader = playback.stream.getReader()
  for (;;) {
    const { value, done } = await reader.read()
    if (done) break
    if (mediaSource.readyState !== 'open') return
    await new Promise<void>((resolve, reject) => {
      buffer.addEventListener('updateend', () => resolve(), { once: true })
      buffer.addEventListener('error', () => reject(new Error('the browser could not decode the audio')), { once: true })
      buffer.appendBuffer(value as Uint8Array<ArrayBuffer>)
    })
  }
  if (mediaSource.readyState === 'open') mediaSource.endOfStream()
}

async function start(track: Track, from = 0): Promise<void> {
  current?.playback.stop()
  const playback = client.play(track.trackId, { quality: 'auto', from, context: { tracks: catalog.map((t) => t.trackId) } })
  current = { track, playback, from }
  const qi = queue.indexOf(track.trackId)
  if (qi === 0) queue.shift()
  syncQueue()
  renderCatalog()
  $('now').textContent = `${track.title} · ${track.artist}${track.album ? ` · ${track.album}` : ''}`
  seek.max = String(Math.floor(track.durationMs / 1000))
  say('Starting…')
  const mediaSource = new MediaSource()
  audio.src = URL.createObjectURL(mediaSource)
  await new Promise((resolve) => mediaSource.addEventListener('sourceopen', resolve, { once: true }))
  playback.on('stall', () => say('Waiting for audio… (the network is slower than the music)'))
  playback.on('resume', () => say(''))
  playback.on('error', (err) => say(explain(err)))
  feed(playback, mediaSource, from).catch((err) => say(explain(err)))
  try {
    const s = await playback.ready
    say(s.fromCache ? 'Playing from this browser’s cache.' : '')
    audio.currentTime = from
    await audio.play().catch(() => say('Press Play to start the audio (the browser blocked autoplay).'))
  } catch (err) {
    say(explain(err))
  }
}

function next(): void {
  const id = upcoming()[0] ?? catalog[0]?.trackId
  const t = catalog.find((x) => x.trackId === id)
  if (t) void start(t)
}

function refresh(): void {
  const p = current?.playback
  const s = p?.stats()
  if (!seeking && current) seek.value = String(Math.floor(audio.currentTime))
  $('time').textContent = `${fmtTime(audio.currentTime)} / ${fmtTime((current?.track.durationMs ?? 0) / 1000)}`
  playButton.textContent = audio.paused ? 'Play' : 'Pause'
  playButton.setAttribute('aria-label', audio.paused ? 'Play' : 'Pause')
  if (!s) return
  $('ttfa').textContent = s.timeToFirstAudioMs === null ? '…' : `${Math.round(s.timeToFirstAudioMs)} ms${s.prefetched ? ' (prefetched)' : ''}`
  const b = audio.buffered
  const ahead = b.length ? Math.max(0, b.end(b.length - 1) - audio.currentTime) : 0
  $('buffer').textContent = `${ahead.toFixed(1)} s`
  $('quality').textContent = `${s.bitrate} kbit/s`
  $('peers').textContent = String(s.peersConnected)
  const total = s.bytes.cache + s.bytes.peer + s.bytes.edge || 1
  const spans = $('bar').querySelectorAll('span')
  ;(['cache', 'peer', 'edge'] as const).forEach((k, i) => ((spans[i] as HTMLElement).style.width = `${(100 * s.bytes[k]) / total}%`))
  const legend = `cache ${fmtBytes(s.bytes.cache)} · peers ${fmtBytes(s.bytes.peer)} · edge ${fmtBytes(s.bytes.edge)}`
  $('bar-legend').textContent = legend
  $('bar').setAttribute('aria-label', legend)
}

async function main(): Promise<void> {
  const config = (await (await fetch('config.json')).json()) as { tracker?: string; apiKey: string; publicKey?: string; p2p?: boolean }
  client = await createClient({
    edge: location.origin,
    ...(config.tracker && config.p2p !== false && { tracker: config.tracker }),
    apiKey: config.apiKey,
    ...(config.publicKey && { publicKey: config.publicKey }),
  })
  // For scripts and tests driving the page.
  ;(window as unknown as { chorus: unknown }).chorus = { client, stats: () => current?.playback.stats(), currentTime: () => audio.currentTime }
  try {
    catalog = await client.catalog()
  } catch (err) {
    say(explain(err))
  }
  renderCatalog()
  playButton.addEventListener('click', () => {
    if (!current) return next()
    if (audio.paused) void audio.play()
    else audio.pause()
  })
  $('next').addEventListener('click', next)
  audio.addEventListener('ended', next)
  audio.addEventListener('timeupdate', () => current?.playback.reportPosition(audio.currentTime))
  $<HTMLInputElement>('volume').addEventListener('input', (e) => (audio.volume = Number((e.target as HTMLInputElement).value)))
  audio.volume = 0.8
  seek.addEventListener('input', () => (seeking = true))
  seek.addEventListener('change', () => {
    seeking = false
    const to = Number(seek.value)
    const b = audio.buffered
    for (let i = 0; i < b.length; i++) {
      if (to >= b.start(i) && to < b.end(i)) {
        audio.currentTime = to
        return
      }
    }
    if (current) void start(current.track, to)
  })
  document.addEventListener('keydown', (e) => {
    if ((e.target as HTMLElement).tagName === 'INPUT' || (e.target as HTMLElement).tagName === 'BUTTON') return
    if (e.key === ' ') {
      e.preventDefault()
      playButton.click()
    } else if (e.key === 'n') next()
  })
  setInterval(refresh, 500)
}

main().catch((err) => say(explain(err)))
