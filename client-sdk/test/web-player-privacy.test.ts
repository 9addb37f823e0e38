// The web player's peer-to-peer mode (player.ts, core/privacy.ts) in Chromium, against the real
// stack of `chorus start`: the listener picks download-only, the choice survives a reload, the
// page and the SDK's stats say so, and while another page plays the same track (and offers to
// it through the tracker) it uploads nothing. Relay-only is not offered without a TURN server.

import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Page } from 'playwright-core'
import t from 'tap'
import { ingestFile } from '../../origin/index.js'
import { loadOriginKeys } from '../../origin/index.js'
import { makeWav, tempDataDir } from '../../test-support/fixtures.js'
import { ownConfig, startStackAndBrowser } from './web-stack.js'
import { PLAYER_CHROMIUM_ARGS } from '../../test-support/chromium.js'

const SCREENSHOTS = new URL('./screenshots/', import.meta.url).pathname

interface PageFigures {
  mode: string
  uploaded: number | undefined
  swarms: number | undefined
  offers: number | undefined
  peerBytes: number
  time: number
}

const figures = (page: Page) =>
  page.evaluate((): PageFigures => {
    const c = (
      window as unknown as {
        chorus: {
          client: { stats(): { privacy: { mode: string }; network?: { uploadedBytes: number; swarms: number; offers: number } } }
          stats(): { bytes: { peer: number } } | undefined
          currentTime(): number
        }
      }
    ).chorus
    const s = c.client.stats()
    return { mode: s.privacy.mode, uploaded: s.network?.uploadedBytes, swarms: s.network?.swarms, offers: s.network?.offers, peerBytes: c.stats()?.bytes.peer ?? 0, time: c.currentTime() }
  })

async function until(what: string, check: () => Promise<boolean>, pages: Page[], timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) {
      const seen = await Promise.all(
        pages.map((p) =>
          figures(p).then(
            (f) => JSON.stringify(f),
            (e: Error) => e.message,
          ),
        ),
      )
      throw new Error(`timed out waiting for ${what}\n${seen.join('\n')}`)
    }
    await new Promise((r) => setTimeout(r, 100))
  }
}

/** The page has its client: the mode it holds is on show. */
const loaded = (page: Page) => page.locator('#privacy-status[data-mode]').waitFor({ timeout: 30_000 })

t.test('download-only, picked in the page, holds across a reload: shown, in the stats, and nothing uploaded to a page playing the same track', async (t) => {
  const dataDir = await tempDataDir(t, 'chorus-web-privacy')
  const keys = await loadOriginKeys(dataDir)
  await writeFile(join(dataDir, 'test-song.wav'), makeWav(40))
  await ingestFile(join(dataDir, 'test-song.wav'), { title: 'Test Song', artist: 'Chorus tests' }, { dataDir, keys, bitrates: [96] })
  await writeFile(join(dataDir, 'config.json'), JSON.stringify({ apiKeys: { 'chorus-demo-key': { name: 'demo', scope: ['play', 'announce'] } } }))
  const { stack, browser } = await startStackAndBrowser(t, dataDir, {
    args: [...PLAYER_CHROMIUM_ARGS],
  })
  // No iceServers: no TURN server, so relay-only cannot be offered.
  const config = ownConfig({ tracker: stack.urls.tracker!, origin: stack.urls.origin!, apiKey: 'chorus-demo-key', publicKey: keys.publicKey, p2p: true })
  const open = async () => {
    const context = await browser.newContext({ viewport: { width: 1100, height: 1100 } })
    await config(context)
    const page = await context.newPage()
    await page.goto(stack.urls.player!)
    await loaded(page)
    return page
  }

  const listener = await open()
  const modes = listener.getByRole('group', { name: 'Peer-to-peer mode' })
  await t.resolves(
    modes
      .getByRole('radio', { name: 'P2P on' })
      .isChecked()
      .then((on) => (on ? undefined : Promise.reject(new Error('P2P on is not checked')))),
    'P2P on by default',
  )
  t.equal((await figures(listener)).mode, 'direct', "the SDK's stats say direct")
  const relay = modes.getByRole('radio', { name: 'Relay only' })
  t.ok(await relay.isDisabled(), 'relay-only cannot be picked without a TURN server')
  t.match(await listener.locator('#privacy-relay-only-why').textContent(), /Not available: .*no TURN server/, 'and the page says why')
  t.match(await relay.getAttribute('aria-describedby'), /privacy-relay-only-why/, 'the reason is part of the radio’s description')

  await modes.getByRole('radio', { name: 'Download only' }).check()
  await until('the page to switch to download-only', async () => (await figures(listener)).mode === 'download-only', [listener])
  t.match(await listener.getByRole('status').filter({ hasText: 'Mode:' }).textContent(), /^Mode: Download only/, 'the page shows the new mode at once')

  await listener.reload()
  await loaded(listener)
  t.ok(await modes.getByRole('radio', { name: 'Download only' }).isChecked(), 'after a reload, download-only is still the choice')
  t.match(await listener.locator('#privacy-status').textContent(), /^Mode: Download only, .*serving nobody/, 'the page shows it')
  t.equal((await figures(listener)).mode, 'download-only', "the new page's client is download-only (client.stats().privacy)")
  await mkdir(SCREENSHOTS, { recursive: true })
  await listener.locator('section.privacy').screenshot({ path: join(SCREENSHOTS, 'player-privacy.png') })

  await listener.getByRole('button', { name: 'Play Test Song' }).click()
  await until('audio in the download-only page', async () => (await figures(listener)).time > 0.5, [listener])
  const other = await open()
  t.ok(await other.getByRole('radio', { name: 'P2P on' }).isChecked(), 'another browser keeps its own mode: P2P on')
  await other.getByRole('button', { name: 'Play Test Song' }).click()
  const both = [listener, other]
  await until('audio in the other page', async () => (await figures(other)).time > 0.5, both)
  // The other page offers only to a swarm the tracker says someone else is in: the download-only page, playing.
  await until('the other page to offer to the swarm', async () => ((await figures(other)).offers ?? 0) > 0, both)
  const start = (await figures(other)).time
  await until('the other page to play 8 s more', async () => (await figures(other)).time > start + 8, both, 90_000)
  const [mine, theirs] = await Promise.all([figures(listener), figures(other)])
  t.comment(`download-only page: ${JSON.stringify(mine)}; other page: ${JSON.stringify(theirs)}`)
  t.equal(mine.mode, 'download-only')
  t.ok((mine.swarms ?? 0) >= 1, 'the download-only page is in the swarm while it plays (P2P is on for it)')
  t.equal(mine.uploaded, 0, 'it uploaded nothing')
  t.equal(theirs.peerBytes, 0, 'the other page got no byte from a peer')
  t.ok(theirs.time > start + 8, 'the other page plays on, from the edge')
})
