import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { ownConfig, startStackAndBrowser } from './web-stack.js'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { ingestFile } from '../../origin/index.js'
import { loadOriginKeys } from '../../origin/index.js'
import { makeWav, tempDataDir } from '../../test-support/fixtures.js'
import { PLAYER_CHROMIUM_ARGS } from '../../test-support/chromium.js'

const SCREENSHOTS = new URL('./screenshots/', import.meta.url).pathname

let ownPage: (context: BrowserContext) => Promise<void> = async () => {}

async function newPage(browser: Browser, viewport: { width: number; height: number }): Promise<Page> {
  const context = await browser.newContext({ viewport })
  await ownPage(context)
  return context.newPage()
}

const pages: Page[] = []

async function openPlayer(browser: Browser, url: string): Promise<Page> {
  // A context per page: two listeners with caches of their own, as two browsers would be.
  const page = await newPage(browser, { width: 1100, height: 900 })
  const n = pages.push(page)
  page.on('console', (m) => ['error', 'warning'].includes(m.type()) && consoleLines.push(`page ${n} console: ${m.text().slice(0, 300)}`))
  await page.goto(url)
  await page.getByRole('button', { name: 'Play Test Song' }).click()
  return page
}

const currentTime = (page: Page) => page.evaluate(() => (window as unknown as { chorus: { currentTime(): number } }).chorus.currentTime())
const peerBytes = (page: Page) => page.evaluate(() => (window as unknown as { chorus: { stats(): { bytes: { peer: number } } | undefined } }).chorus.stats()?.bytes.peer ?? 0)

/** What the pages said on their consoles (errors and warnings), for a timeout's message. */
const consoleLines: string[] = []

/** The pages' own figures, for a timeout's message. */
async function pageFigures(): Promise<string> {
  const figures = await Promise.all(
    pages.map((p, i) =>
      p
        .evaluate(() => {
          const c = (window as unknown as { chorus?: { stats(): unknown; client: { stats(): unknown }; log: Array<{ type: string }> } }).chorus
          const log = c?.log.filter((e) => !['place', 'appended'].includes(e.type))
          return JSON.stringify({ playback: c?.stats(), client: c?.client.stats(), status: document.getElementById('status')?.textContent, log })
        })
        .then(
          (s) => `page ${i + 1}: ${s}`,
          (err: Error) => `page ${i + 1}: ${err.message}`,
        ),
    ),
  )
  return [...figures, ...consoleLines.slice(-20)].join('\n')
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n${await pageFigures()}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

t.test('two pages play the same track in Chromium; the second takes bytes from the first over WebRTC', async (t) => {
  const dataDir = await tempDataDir(t, 'chorus-web')
  const keys = await loadOriginKeys(dataDir)
  await writeFile(join(dataDir, 'test-song.wav'), makeWav(40))
  await ingestFile(join(dataDir, 'test-song.wav'), { title: 'Test Song', artist: 'Chorus tests' }, { dataDir, keys, bitrates: [96, 160] })
  await writeFile(join(dataDir, 'config.json'), JSON.stringify({ apiKeys: { 'chorus-demo-key': { name: 'demo', scope: ['play', 'announce'] } } }))

  const { stack, browser } = await startStackAndBrowser(t, dataDir, {
    args: [...PLAYER_CHROMIUM_ARGS],
  })
  ownPage = ownConfig({ tracker: stack.urls.tracker!, origin: stack.urls.origin!, apiKey: 'chorus-demo-key', publicKey: keys.publicKey, p2p: true })

  const first = await openPlayer(browser, stack.urls.player!)
  await until('audio in the first page', async () => (await currentTime(first)) > 0.5)
  const second = await openPlayer(browser, stack.urls.player!)
  await until('audio in the second page', async () => (await currentTime(second)) > 0.5)
  const [a1, b1] = [await currentTime(first), await currentTime(second)]
  await until('the second page to take bytes from a peer', async () => (await peerBytes(second)) > 0)
  await until('time to pass', async () => (await currentTime(second)) > b1 + 1 && (await currentTime(first)) > a1 + 1)
  t.ok((await currentTime(first)) > a1, 'the first page plays on')
  t.ok((await currentTime(second)) > b1, 'the second page plays on')
  t.ok((await peerBytes(second)) > 0, 'the second page has peer bytes')
  const mime = await first.evaluate(() => (window as unknown as { chorus: { state(): { decks: Array<{ mime?: string }> } } }).chorus.state().decks[0]!.mime)
  t.match(mime, /^audio\/mp4; codecs="mp4a\.40\.2"/, 'the track plays as AAC in MP4 through MSE')

  // The page shows it too (its figures refresh twice a second).
  await until('the page to show peer bytes', async () => !/peers 0 B/.test((await second.locator('#bar-legend').textContent()) ?? ''))
  t.comment(`second page: ${await second.locator('#bar-legend').textContent()}`)
  await mkdir(SCREENSHOTS, { recursive: true })
  await second.screenshot({ path: join(SCREENSHOTS, 'player.png'), fullPage: true })
  const phone = await newPage(browser, { width: 390, height: 844 })
  await phone.goto(stack.urls.player!)
  await phone.screenshot({ path: join(SCREENSHOTS, 'player-phone.png'), fullPage: true })
  const operator = await newPage(browser, { width: 1100, height: 800 })
  await operator.goto(stack.urls.operator!)
  await until('operator figures', async () => (await operator.locator('#edge div').count()) > 0)
  await operator.screenshot({ path: join(SCREENSHOTS, 'operator.png'), fullPage: true })
  t.pass(`screenshots in ${SCREENSHOTS}`)
})
