import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { ownConfig, startStackAndBrowser } from './web-stack.js'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { ingestFile } from '../../origin/index.js'
import { loadOriginKeys } from '../../origin/index.js'
import { buildWav } from '../../test-support/audio.js'
import { makeWav, tempDataDir } from '../../test-support/fixtures.js'
import { PLAYER_CHROMIUM_ARGS } from '../../test-support/chromium.js'

/**
 * The web player's transitions in Chromium, over AAC tracks ingested here: gapless (two halves
 * of one sine appended into one SourceBuffer), crossfade (two decks overlapping for the set
 * length, the setting kept across a reload), and catalog additions rendered while playing.
 */
const RATE = 44100
const HZ = 440
const AMPLITUDE = 0.5
/** Where the sine is cut in two: not a multiple of the AAC frame (1024 samples). */
const SPLIT = 6 * RATE + 333
const TOTAL = 12 * RATE
const CROSSFADE = 3

/** A 16-bit stereo WAV of `frames` samples of `sample(i)` (both channels alike). */
function wav(frames: number, sample: (i: number) => number): Uint8Array {
  const channel = Float64Array.from({ length: frames }, (_, i) => sample(i))
  return buildWav({ channels: [channel, channel], sampleRate: RATE, format: 'int', bits: 16 })
}

const tone = (i: number) => AMPLITUDE * Math.sin((2 * Math.PI * HZ * i) / RATE)

/** The page whose state a timeout shows. */
let watched: Page | undefined

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) {
      const page = watched
      const seen = page
        ? await page
            .evaluate(() =>
              JSON.stringify({
                state: (window as unknown as ChorusWindow).chorus?.state(),
                log: (window as unknown as ChorusWindow).chorus?.log.slice(-30),
                status: document.getElementById('status')?.textContent,
              }),
            )
            .catch(() => '')
        : ''
      throw new Error(`timed out waiting for ${what}${seen ? `; the page: ${seen}` : ''}`)
    }
    await new Promise((r) => setTimeout(r, 100))
  }
}

interface SegmentState {
  trackId: string
  origin: number
  startsAt: number
  endsAt: number
  complete: boolean
  codec?: string
  timing?: { sampleRate: number; delay: number; samples: number }
}
interface DeckState {
  name: string
  currentTime: number
  paused: boolean
  ended: boolean
  readyState: string
  mime?: string
  buffered: Array<[number, number]>
  gain: number | null
  segments: SegmentState[]
}
interface PlayerState {
  now?: string
  title: string
  crossfade: number
  active: string
  decks: DeckState[]
}
interface LogEntry {
  type: string
  deck?: string
  t?: number
  at: number
  trackId?: string
  detail?: string
}

type ChorusWindow = { chorus: { state(): PlayerState; log: LogEntry[]; currentTime(): number } }
const state = (page: Page) => page.evaluate(() => (window as unknown as ChorusWindow).chorus.state())
const pageLog = (page: Page) => page.evaluate(() => (window as unknown as ChorusWindow).chorus.log)
const position = (page: Page) => page.evaluate(() => (window as unknown as ChorusWindow).chorus.currentTime())

let ownPage: (context: BrowserContext) => Promise<void> = async () => {}

async function openPlayer(browser: Browser, url: string): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1100, height: 900 } })
  await ownPage(context)
  const page = await context.newPage()
  watched = page
  page.on('console', (m) => m.type() === 'error' && console.error(`page: ${m.text()}`))
  await page.goto(url)
  await until('the page to start', () => page.evaluate(() => 'chorus' in window))
  return page
}

/** Queues tracks through the page's buttons and presses Play. */
async function queueAndPlay(page: Page, titles: string[]): Promise<void> {
  for (const title of titles) {
    const button = page.getByRole('button', { name: `Add ${title} to the queue` })
    await button.waitFor({ timeout: 30_000 })
    await button.click()
  }
  await page.locator('#play').click()
}

/**
 * Records what the element renders: its output through WebAudio into an AudioWorklet that posts
 * each 128-sample block back (the first channel). Installed before the player touches the element.
 */
async function installRecorder(page: Page): Promise<{ sampleRate: number; state: string }> {
  return page.evaluate(async () => {
    const code = `class Rec extends AudioWorkletProcessor {
      process(inputs) { const ch = inputs[0] && inputs[0][0]; if (ch) this.port.postMessage(ch.slice(0)); return true }
    }
    registerProcessor('chorus-test-recorder', Rec)`
    const ctx = new AudioContext()
    await ctx.audioWorklet.addModule(URL.createObjectURL(new Blob([code], { type: 'text/javascript' })))
    const node = new AudioWorkletNode(ctx, 'chorus-test-recorder')
    const blocks: Float32Array[] = []
    const audio = document.getElementById('audio') as HTMLAudioElement
    // Until the element's first end: what the page plays after (the catalog from the top) is not recorded.
    let recording = true
    audio.addEventListener('ended', () => (recording = false), { once: true })
    node.port.onmessage = (e) => recording && blocks.push(e.data as Float32Array)
    ctx.createMediaElementSource(audio).connect(node)
    node.connect(ctx.destination)
    await ctx.resume()
    ;(window as unknown as { recorder: unknown }).recorder = { ctx, blocks }
    return { sampleRate: ctx.sampleRate, state: ctx.state }
  })
}

async function recording(page: Page): Promise<Float32Array> {
  const b64 = await page.evaluate(() => {
    const { blocks } = (window as unknown as { recorder: { blocks: Float32Array[] } }).recorder
    const bytes = new Uint8Array(new Blob(blocks as BlobPart[]).size)
    let at = 0
    for (const b of blocks) {
      bytes.set(new Uint8Array(b.buffer, b.byteOffset, b.byteLength), at)
      at += b.byteLength
    }
    let s = ''
    for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000))
    return btoa(s)
  })
  const buf = Buffer.from(b64, 'base64')
  return new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4)
}

/** Phase (radians) of a `hz` sine fitted to x[from..to) (least squares on sin and cos). */
function phaseOf(x: Float32Array, from: number, to: number, hz: number, rate: number): number {
  const w = (2 * Math.PI * hz) / rate
  let ss = 0
  let cc = 0
  let sc = 0
  let xs = 0
  let xc = 0
  for (let i = from; i < to; i++) {
    const s = Math.sin(w * i)
    const c = Math.cos(w * i)
    ss += s * s
    cc += c * c
    sc += s * c
    xs += x[i]! * s
    xc += x[i]! * c
  }
  const det = ss * cc - sc * sc
  const a = (xs * cc - xc * sc) / det
  const b = (xc * ss - xs * sc) / det
  return Math.atan2(b, a)
}

/**
 * The rendered tone around the join: the longest run of near-silence inside the tone, and how
 * far the sine after the join is shifted from the one before it (samples, within ± half a period).
 */
function measureJoin(x: Float32Array, rate: number) {
  let first = 0
  while (first < x.length && Math.abs(x[first]!) < AMPLITUDE / 2) first++
  let last = x.length - 1
  while (last > first && Math.abs(x[last]!) < AMPLITUDE / 2) last--
  const from = first + Math.round(0.1 * rate)
  const to = last - Math.round(0.1 * rate)
  let quiet = 0
  let run = 0
  let quietAt = from
  let step = 0
  let stepAt = from
  for (let i = from; i < to; i++) {
    run = Math.abs(x[i]!) < AMPLITUDE / 20 ? run + 1 : 0
    if (run > quiet) {
      quiet = run
      quietAt = i - run + 1
    }
    const d = Math.abs(x[i]! - x[i - 1]!)
    if (d > step) {
      step = d
      stepAt = i
    }
  }
  const at = quiet > 8 ? quietAt : stepAt
  const win = Math.round(0.3 * rate)
  const gap = Math.round(0.02 * rate)
  const before = phaseOf(x, at - win - gap, at - gap, HZ, rate)
  const after = phaseOf(x, at + quiet + gap, at + quiet + gap + win, HZ, rate)
  const period = rate / HZ
  const shift = ((((((after - before) / (2 * Math.PI)) * period) % period) + period * 1.5) % period) - period / 2
  const steady = (() => {
    let s = 0
    for (let i = at - win; i < at - gap; i++) s = Math.max(s, Math.abs(x[i]! - x[i - 1]!))
    return s
  })()
  return { toneSec: (last - first) / rate, quietSamples: quiet, shiftSamples: shift, step, steadyStep: steady, at: (at - first) / rate }
}

t.test('the web player: gapless joins, crossfades and catalog additions in Chromium (AAC)', async (t) => {
  const dataDir = await tempDataDir(t, 'chorus-web-transitions')
  const keys = await loadOriginKeys(dataDir)
  const tracks: Array<[string, string, Uint8Array]> = [
    ['tone-a', 'Tone A', wav(SPLIT, (i) => tone(i))],
    ['tone-b', 'Tone B', wav(TOTAL - SPLIT, (i) => tone(SPLIT + i))],
    ['chords-a', 'Chords A', makeWav(8)],
    ['chords-b', 'Chords B', makeWav(8)],
    ['long-song', 'Long Song', makeWav(40)],
  ]
  // Side by side: each is an encode of its own (the catalog lists tracks by id, not by when they came).
  const ingest = async (trackId: string, title: string, bytes: Uint8Array, options: { bitrates: number[]; codec?: 'mp3' }) => {
    const path = join(dataDir, `${trackId}.wav`)
    await writeFile(path, bytes)
    await ingestFile(path, { trackId, title, artist: 'Chorus tests' }, { dataDir, keys, ...options })
  }
  await Promise.all([
    ...tracks.map(([trackId, title, bytes]) => ingest(trackId, title, bytes, { bitrates: [160] })),
    // An older catalog's track: MP3, played as before and followed by AAC in the same SourceBuffer.
    ingest('mp3-song', 'MP3 Song', makeWav(5), { bitrates: [128], codec: 'mp3' }),
  ])
  await writeFile(join(dataDir, 'config.json'), JSON.stringify({ apiKeys: { 'chorus-demo-key': { name: 'demo', scope: ['play', 'announce'] } } }))

  const { stack, browser } = await startStackAndBrowser(t, dataDir, {
    args: [...PLAYER_CHROMIUM_ARGS],
  })
  const url = stack.urls.player!
  ownPage = ownConfig({ tracker: stack.urls.tracker!, origin: stack.urls.origin!, apiKey: 'chorus-demo-key', publicKey: keys.publicKey, p2p: true })

  await t.test('gapless: two halves of one sine play as one, in one SourceBuffer, without a stop', async (t) => {
    const page = await openPlayer(browser, url)
    const recorder = await installRecorder(page).catch((err: Error) => ({ sampleRate: 0, state: `failed: ${err.message}` }))
    await queueAndPlay(page, ['Tone A', 'Tone B'])
    const toneB = (s: PlayerState) => s.decks[0]!.segments.find((x) => x.trackId === 'tone-b')
    await until('Tone B to be appended and play for a second', async () => {
      const s = await state(page)
      return s.now === 'tone-b' && toneB(s)?.complete === true && (await position(page)) > 1
    })
    // Tone B is the last in catalog order: nothing follows it in this SourceBuffer.
    const s = await state(page)
    const title = await page.locator('#now').textContent()
    const seekMax = await page.locator('#seek').getAttribute('max')
    await until('the tone to end', async () => (await pageLog(page)).some((e) => e.type === 'ended'), 30_000)
    const deck = s.decks[0]!
    t.match(deck.mime ?? '', /^audio\/mp4; codecs="mp4a\.40\.2"/, 'one SourceBuffer of AAC in MP4')
    const segs = deck.segments
    t.comment(`segments: ${JSON.stringify(segs.map(({ trackId, startsAt, endsAt, timing }) => ({ trackId, startsAt, endsAt, timing })))}`)
    t.comment(`buffered: ${JSON.stringify(deck.buffered)}`)
    const end = TOTAL / RATE
    t.equal(deck.buffered.length, 1, 'the buffered audio is one range: no gap')
    t.ok(Math.abs(deck.buffered[0]![0]) < 0.001, `it starts at 0 (${deck.buffered[0]![0]})`)
    t.ok(Math.abs(deck.buffered[0]![1] - end) < 0.001, `it ends at (samples A + samples B) / rate = ${end} s within 1 ms: no overlap (${deck.buffered[0]![1]})`)
    const b = segs.find((x) => x.trackId === 'tone-b')
    t.ok(b && Math.abs(b.startsAt - SPLIT / RATE) < 1e-6, `Tone B starts where Tone A ends, ${SPLIT / RATE} s (${b?.startsAt})`)
    t.equal(b?.timing?.samples, TOTAL - SPLIT, "Tone B's real length is its samples")

    const log = (await pageLog(page)).filter((e) => e.deck === 'A')
    const started = log.findIndex((e) => e.type === 'playing')
    t.ok(started >= 0, 'the element played')
    const after = log.slice(started + 1)
    const endedAt = after.findIndex((e) => e.type === 'ended')
    // From a second in (a start may stutter once before the first fragment is whole) to the end.
    const between = after.filter((e) => e.t! > 1 && e.t! < end - 0.05)
    t.same(
      between.filter((e) => ['ended', 'pause', 'seeking'].includes(e.type)).map((e) => `${e.type} at ${e.t}`),
      [],
      "no 'pause' or 'ended' between the tracks",
    )
    // 'waiting' with nothing buffered ahead is a hole in the timeline; with audio ahead it is the
    // decoder falling behind on a loaded machine (seen when two browser tests share the CPU).
    const waits = between.filter((e) => e.type === 'waiting')
    t.same(
      waits.filter((e) => !(Number(e.detail?.replace('ahead ', '')) >= 0.1)).map((e) => `waiting at ${e.t} (${e.detail})`),
      [],
      "no 'waiting' for data: the element never reached the end of what was buffered",
    )
    if (waits.length) t.comment(`'waiting' with audio buffered ahead (a busy machine): ${waits.map((e) => `at ${e.t} (${e.detail})`).join(', ')}`)
    t.ok(endedAt >= 0 && after[endedAt]!.t! >= end - 0.05, "'ended' came once, at the end of Tone B")
    const nowB = log.find((e) => e.type === 'now' && e.trackId === 'tone-b')
    t.ok(
      nowB && nowB.t! >= SPLIT / RATE - 0.001 && nowB.t! < SPLIT / RATE + 0.3,
      `now playing turned to Tone B as the playhead crossed the join (at ${nowB?.t?.toFixed(3)} s, join ${(SPLIT / RATE).toFixed(3)} s)`,
    )
    t.match(title, /Tone B/, 'the page said Tone B')
    t.equal(seekMax, String(Math.floor((TOTAL - SPLIT) / RATE)), "the seek bar was Tone B's")

    // What the element rendered, through WebAudio: the tone goes on through the join. Before
    // ingest ended each track on an AAC frame (origin's gaplessLead), Chromium rendered the
    // trimmed padding of Tone A's last frame as a quiet run of 281 samples here.
    if (recorder.sampleRate > 0) {
      const m = measureJoin(await recording(page), recorder.sampleRate)
      t.comment(
        `rendered (AudioContext ${recorder.sampleRate} Hz, ${recorder.state}): ${m.toneSec.toFixed(3)} s of tone; at ${m.at.toFixed(3)} s a quiet run of ${m.quietSamples} samples, sine shifted by ${m.shiftSamples.toFixed(1)} samples, largest step ${m.step.toFixed(3)} (steady ${m.steadyStep.toFixed(3)})`,
      )
      t.ok(m.quietSamples < 8, `no quiet run in the rendered tone (longest ${m.quietSamples} samples)`)
      t.ok(Math.abs(m.shiftSamples) < 2, `the sine after the join is in phase with the sine before it (${m.shiftSamples.toFixed(1)} samples off)`)
    } else t.fail(`no recording of what Chromium rendered: ${recorder.state}`)
  })

  await t.test('crossfade: the setting survives a reload; two decks overlap for its length', async (t) => {
    const page = await openPlayer(browser, url)
    const slider = page.getByLabel('Crossfade', { exact: true })
    t.equal(await slider.inputValue(), '0', 'off (gapless) by default')
    await slider.focus()
    for (let i = 0; i < CROSSFADE; i++) await page.keyboard.press('ArrowRight')
    t.equal(await page.locator('#crossfade-value').textContent(), `${CROSSFADE} s`, 'the keyboard sets it')
    await page.reload()
    await until('the page to start', () => page.evaluate(() => 'chorus' in window))
    t.equal(await slider.inputValue(), String(CROSSFADE), 'kept across a reload')
    t.equal(await slider.getAttribute('aria-valuetext'), `${CROSSFADE} seconds`, 'and read out in words')

    await queueAndPlay(page, ['Chords A', 'Chords B'])
    // Both decks, sampled: while both play, their gains follow equal-power curves.
    const samples: Array<{ at: number; a: DeckState; b: DeckState }> = []
    await until(
      'the fade to finish',
      async () => {
        const s = await state(page)
        samples.push({ at: Date.now(), a: s.decks[0]!, b: s.decks[1]! })
        const log = await pageLog(page)
        const fade = log.find((e) => e.type === 'fade')
        return fade !== undefined && log.some((e) => e.deck === 'A' && ['ended', 'pause', 'stop'].includes(e.type) && e.at > fade.at) && s.decks[1]!.currentTime > CROSSFADE + 0.5
      },
      60_000,
    )
    const log = await pageLog(page)
    t.comment(
      `events: ${log
        .filter((e) => !['place', 'appended'].includes(e.type))
        .map((e) => `${e.type}${e.deck ?? ''}@${Math.round(e.at)}ms/${e.t?.toFixed(2)}s${e.trackId ? `:${e.trackId}` : ''}${e.detail ? `(${e.detail})` : ''}`)
        .join(' ')}`,
    )
    const fade = log.find((e) => e.type === 'fade')
    const bPlaying = log.find((e) => e.type === 'playing' && e.deck === 'B')
    // Deck A stops at its end: 'ended', or 'stop' when the page lets it go first.
    const aEnded = log.find((e) => e.deck === 'A' && ['ended', 'pause', 'stop'].includes(e.type) && e.at > (fade?.at ?? 0))
    const aNow = log.find((e) => e.type === 'now' && e.trackId === 'chords-a')
    t.ok(fade && bPlaying && aEnded && aNow, 'deck B started and deck A stopped')
    const aAtFade = log.filter((e) => e.deck === 'A' && e.at <= fade!.at).at(-1)?.t ?? NaN
    const overlap = (aEnded!.at - bPlaying!.at) / 1000
    t.comment(
      `fade at ${fade!.at.toFixed(0)} ms (Chords A at ${aAtFade.toFixed(2)} s), B playing at ${bPlaying!.at.toFixed(0)} ms, A ended at ${aEnded!.at.toFixed(0)} ms: overlap ${overlap.toFixed(2)} s`,
    )
    t.ok(Math.abs(overlap - CROSSFADE) < 0.5, `both decks played for about ${CROSSFADE} s (${overlap.toFixed(2)} s)`)
    const both = samples.filter((x) => !x.a.paused && !x.b.paused && x.a.currentTime > 0 && x.b.currentTime > 0)
    // How long the overlap lasted is the page's own log's to say (above): how often this test got
    // to sample it depends on the machine's load (a poll took 0.7 s at load 25).
    t.ok(both.length >= 2, `sampled both playing ${both.length} times`)
    const mid = both.filter((x) => x.a.gain !== null && x.b.gain !== null && x.a.gain > 0.1 && x.b.gain > 0.1)
    t.ok(mid.length > 0, 'gains seen mid-fade')
    t.ok(
      mid.every((x) => Math.abs(x.a.gain! ** 2 + x.b.gain! ** 2 - 1) < 0.06),
      `equal power through the fade: ${mid.map((x) => `${x.a.gain!.toFixed(2)}/${x.b.gain!.toFixed(2)}`).join(' ')}`,
    )
    t.ok(
      log.some((e) => e.type === 'now' && e.trackId === 'chords-b' && e.at >= fade!.at),
      'the page turned to Chords B',
    )
    t.ok(Math.abs(aAtFade - (8 - CROSSFADE)) < 0.4, `the fade began ${CROSSFADE} s before Chords A's end (at ${aAtFade.toFixed(2)} s)`)
  })

  await t.test('catalog: a track added while the page is open shows up without disturbing playback or focus', async (t) => {
    const page = await openPlayer(browser, url)
    await page.getByRole('button', { name: 'Play Long Song' }).click()
    await until('Long Song to play', async () => (await position(page)) > 0.5)
    const queueButton = page.getByRole('button', { name: 'Add Chords A to the queue' })
    await queueButton.focus()
    await page.evaluate(() => ((document.querySelector('li[data-track="chords-a"]') as HTMLElement & { mark?: boolean }).mark = true))
    const before = await position(page)
    const path = join(dataDir, 'late.wav')
    await writeFile(path, makeWav(3))
    await ingestFile(path, { trackId: 'late-track', title: 'Late Track', artist: 'Chorus tests' }, { dataDir, keys, bitrates: [160] })
    const startedAt = Date.now()
    await until('Late Track in the list', async () => (await page.getByRole('button', { name: 'Play Late Track' }).count()) > 0, 40_000)
    t.comment(`appeared ${((Date.now() - startedAt) / 1000).toFixed(1)} s after its ingest`)
    t.ok(await page.evaluate(() => (document.querySelector('li[data-track="chords-a"]') as HTMLElement & { mark?: boolean }).mark === true), 'existing rows are the same elements')
    t.ok(await queueButton.evaluate((el) => el === document.activeElement), 'focus stays where it was')
    const log = (await pageLog(page)).filter((e) => e.deck === 'A')
    const started = log.findIndex((e) => e.type === 'playing')
    t.same(
      log
        .slice(started + 1)
        .filter((e) => ['pause', 'ended', 'now', 'seeking'].includes(e.type))
        .map((e) => e.type),
      [],
      'playback went on: not paused, restarted or moved',
    )
    t.equal((await state(page)).now, 'long-song', 'the same track plays')
    t.ok((await position(page)) > before, 'and its position moved on')

    // Seeking: within what is buffered the element just moves; elsewhere the track starts anew from there.
    const seekTo = async (sec: number) => {
      await page.evaluate((v) => {
        const el = document.getElementById('seek') as HTMLInputElement
        el.value = String(v)
        el.dispatchEvent(new Event('input', { bubbles: true }))
        el.dispatchEvent(new Event('change', { bubbles: true }))
      }, sec)
    }
    const starts = async () => (await pageLog(page)).filter((e) => e.type === 'now').length
    const startsBefore = await starts()
    await seekTo(30)
    // The position that ended the wait: another read later would add a loaded machine's delay to it.
    let p = 0
    await until(
      'the playhead at 30 s',
      async () => {
        p = await position(page)
        return p >= 30.2
      },
      20_000,
    )
    const restarted = (await starts()) > startsBefore
    t.comment(`seek to 30 s: ${restarted ? 'outside the buffer, the track started anew from there' : 'within the buffer'}`)
    t.ok(p >= 30 && p < 32, `plays from 30 s (${p.toFixed(2)})`)
    t.ok(
      (await state(page)).decks[0]!.buffered.some(([a, b]) => a <= 30 && b > 30.2),
      `30 s is buffered (${JSON.stringify((await state(page)).decks[0]!.buffered)})`,
    )
    const again = await starts()
    await seekTo(20)
    await until(
      'the playhead at 20 s',
      async () => {
        const q = await position(page)
        return q >= 20.2 && q < 25
      },
      20_000,
    )
    t.comment(`seek to 20 s: ${(await starts()) > again ? 'the track started anew' : 'within the buffer'}`)
    t.equal((await state(page)).now, 'long-song', 'still Long Song')
    await page.close()
  })

  await t.test('MP3 plays as before, and an AAC track follows it in the same SourceBuffer (changeType)', async (t) => {
    const page = await openPlayer(browser, url)
    await page.getByRole('button', { name: 'Add Chords A to the queue' }).click()
    await page.getByRole('button', { name: 'Play MP3 Song' }).click()
    await until('the MP3 to play', async () => (await state(page)).now === 'mp3-song' && (await position(page)) > 1)
    const placed = (await pageLog(page)).filter((e) => e.type === 'place')
    t.equal(placed.find((e) => e.trackId === 'mp3-song')?.detail, 'audio/mpeg', 'an MP3 SourceBuffer')
    t.match(placed.find((e) => e.trackId === 'chords-a')?.detail ?? '', /^audio\/mp4/, 'then AAC in MP4 in it')
    await until('Chords A to follow', async () => (await state(page)).now === 'chords-a' && (await position(page)) > 1, 30_000)
    const s = await state(page)
    t.match(s.decks[0]!.mime ?? '', /^audio\/mp4/, 'the same SourceBuffer now takes AAC in MP4')
    const log = (await pageLog(page)).filter((e) => e.deck === 'A')
    const started = log.findIndex((e) => e.type === 'playing')
    const join = log.find((e) => e.type === 'now' && e.trackId === 'chords-a')!
    t.same(
      log
        .slice(started + 1)
        .filter((e) => e.at < join.at && ['waiting', 'pause', 'ended'].includes(e.type))
        .map((e) => e.type),
      [],
      'the element played through the codec change',
    )
    t.comment(`MP3 -> AAC join at ${join.t?.toFixed(3)} s; buffered ${JSON.stringify(s.decks[0]!.buffered)}`)
    t.equal(s.decks[0]!.buffered.length, 1, 'one buffered range across the codec change')
    await page.close()
  })
})
