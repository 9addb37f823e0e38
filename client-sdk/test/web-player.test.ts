import { type ChildProcess, spawn } from 'node:child_process'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { chromium, type Browser, type Page } from 'playwright-core'
import { ingestFile } from '../../origin/src/ingest.js'
import { loadOriginKeys } from '../../origin/src/keys.js'
import { CHORUS, makeWav, tempDataDir } from '../../origin/test/fixtures.js'

const SCREENSHOTS = new URL('./screenshots/', import.meta.url).pathname
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

/** `chorus start` on free ports over a small catalog; resolves with its JSON ready line. */
function startStack(dataDir: string): Promise<{ child: ChildProcess; urls: Record<string, string> }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHORUS, 'start', '--data', dataDir, '--json', '--origin-port', '0', '--tracker-port', '0', '--edge-port', '0'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, WRANGLER_SEND_METRICS: 'false' } })
    let out = ''
    let err = ''
    child.stderr!.on('data', (d) => (err += d))
    child.stdout!.on('data', (d) => {
      out += d
      const line = out.split('\n').find((l) => l.startsWith('{"ready"'))
      if (line) resolve({ child, urls: JSON.parse(line) })
    })
    child.on('exit', (code) => reject(new Error(`chorus start exited (${code}): ${err.slice(-1000)}`)))
  })
}

async function openPlayer(browser: Browser, url: string): Promise<Page> {
  // A context per page: two listeners with caches of their own, as two browsers would be.
  const page = await (await browser.newContext({ viewport: { width: 1100, height: 900 } })).newPage()
  await page.goto(url)
  await page.getByRole('button', { name: 'Play Test Song' }).click()
  return page
}

const currentTime = (page: Page) => page.evaluate(() => (window as unknown as { chorus: { currentTime(): number } }).chorus.currentTime())
const peerBytes = (page: Page) => page.evaluate(() => (window as unknown as { chorus: { stats(): { bytes: { peer: number } } | undefined } }).chorus.stats()?.bytes.peer ?? 0)

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 250))
  }
}

t.test('two pages play the same track in Chromium; the second takes bytes from the first over WebRTC', async (t) => {
  const dataDir = await tempDataDir(t, 'chorus-web')
  const keys = await loadOriginKeys(dataDir)
  await writeFile(join(dataDir, 'test-song.wav'), makeWav(40))
  await ingestFile(join(dataDir, 'test-song.wav'), { title: 'Test Song', artist: 'Chorus tests' }, { dataDir, keys, bitrates: [96, 160] })
  await writeFile(join(dataDir, 'config.json'), JSON.stringify({ apiKeys: { 'chorus-demo-key': { name: 'demo', scope: ['play', 'announce'] } } }))

  const stack = await startStack(dataDir)
  t.teardown(() => new Promise<void>((resolve) => {
    if (stack.child.exitCode !== null) return resolve()
    stack.child.once('exit', () => resolve())
    stack.child.kill('SIGTERM')
  }))
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    // Loopback WebRTC needs host candidates without mDNS; the rest keeps Chromium off the network
    // and lets audio start without a user gesture.
    args: ['--no-sandbox', '--disable-gpu', '--disable-features=WebRtcHideLocalIpsWithMdns', '--autoplay-policy=no-user-gesture-required', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--mute-audio', '--disable-background-timer-throttling', '--disable-renderer-backgrounding', '--disable-backgrounding-occluded-windows'],
  })
  t.teardown(() => browser.close())

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

  // The page shows it too (its figures refresh twice a second).
  await until('the page to show peer bytes', async () => !/peers 0 B/.test((await second.locator('#bar-legend').textContent()) ?? ''))
  t.comment(`second page: ${await second.locator('#bar-legend').textContent()}`)
  await mkdir(SCREENSHOTS, { recursive: true })
  await second.screenshot({ path: join(SCREENSHOTS, 'player.png'), fullPage: true })
  const phone = await (await browser.newContext({ viewport: { width: 390, height: 844 } })).newPage()
  await phone.goto(stack.urls.player!)
  await phone.screenshot({ path: join(SCREENSHOTS, 'player-phone.png'), fullPage: true })
  const operator = await (await browser.newContext({ viewport: { width: 1100, height: 800 } })).newPage()
  await operator.goto(stack.urls.operator!)
  await until('operator figures', async () => (await operator.locator('#edge div').count()) > 0)
  await operator.screenshot({ path: join(SCREENSHOTS, 'operator.png'), fullPage: true })
  t.pass(`screenshots in ${SCREENSHOTS}`)
})
