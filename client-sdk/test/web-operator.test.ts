// The operator page (player/operator.ts) in Chromium against `chorus start`, whose servers answer
// their figures only to the run's operator token: the token comes in the URL's fragment (then
// leaves the address bar and stays in the tab's sessionStorage) or through the form, goes out as
// `Authorization: Bearer`, never in a URL; without it (or with a wrong one) the page says so.

import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Page } from 'playwright-core'
import t from 'tap'
import { loadOriginKeys } from '../../origin/index.js'
import { tempDataDir } from '../../test-support/fixtures.js'
import { ownConfig, startStackAndBrowser } from './web-stack.js'

t.test('the operator page takes the token from the fragment or the form, sends it in a header, and says so on 401', async (t) => {
  const dataDir = await tempDataDir(t, 'chorus-web-operator')
  const keys = await loadOriginKeys(dataDir)
  await writeFile(join(dataDir, 'config.json'), JSON.stringify({ apiKeys: { 'chorus-demo-key': { name: 'demo', scope: ['play', 'announce'] } } }))
  // The catalog is empty, so `chorus start` makes the demo catalog meanwhile: one short track, not
  // twelve whole ones encoding beside the browser for the length of the test.
  const { stack, browser } = await startStackAndBrowser(t, dataDir, { args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'] }, [
    '--demo-count',
    '1',
    '--demo-duration',
    '1',
  ])
  const operatorUrl = stack.urls.operator!
  const token = new URL(operatorUrl).hash.match(/^#operator=(.+)$/)?.[1]
  t.ok(token, `chorus start prints the operator page with its token in the fragment: ${operatorUrl.replace(/=.*/, '=…')}`)
  const bare = operatorUrl.replace(/#.*$/, '')
  const config = ownConfig({ tracker: stack.urls.tracker!, origin: stack.urls.origin!, apiKey: 'chorus-demo-key', publicKey: keys.publicKey, p2p: true })
  const open = async (url: string) => {
    const context = await browser.newContext()
    await config(context)
    const page = await context.newPage()
    const sent: Array<{ url: string; authorization: string | undefined }> = []
    page.on('request', (r) => {
      if (/\/metrics|\/_chorus\/stats/.test(r.url())) sent.push({ url: r.url(), authorization: r.headers().authorization })
    })
    await page.goto(url)
    return { page, sent }
  }
  const status = (page: Page) => page.getByRole('status')
  const figuresShown = async (page: Page) =>
    (await page.locator('#edge dt').first().textContent()) === 'Hit ratio' &&
    (await page.locator('#tracker dt').first().textContent()) === 'Connections' &&
    (await page.locator('#origin dt').first().textContent()) === 'Requests / s'

  await t.test('without a token: a clear message, no figures', async (t) => {
    const { page, sent } = await open(bare)
    await status(page)
      .filter({ hasText: /^Not allowed/ })
      .waitFor({ timeout: 20_000 })
    t.match(await status(page).textContent(), /^Not allowed: the edge \(401\), the tracker \(401\), the origin \(401\) answer only to the operator token\. Enter it above/)
    t.equal(await page.locator('#origin dd').first().textContent(), 'needs the operator token', 'no figures on show')
    t.ok(sent.length >= 3 && sent.every((r) => r.authorization === undefined), 'no Authorization header without a token')
  })

  await t.test('from the fragment: figures from all three, the token in a header only, gone from the address bar, kept across a reload', async (t) => {
    const { page, sent } = await open(operatorUrl)
    await t.resolves(
      waitFor(() => figuresShown(page)),
      'edge, tracker and origin figures',
    )
    t.match(await status(page).textContent(), /^Updated /)
    t.equal(new URL(page.url()).hash, '', 'the fragment left the address bar')
    t.equal(await page.evaluate(() => sessionStorage.getItem('chorus-operator-token')), token, 'the token is in sessionStorage')
    t.ok(sent.length >= 3 && sent.every((r) => r.authorization === `Bearer ${token}` && !r.url.includes(token!)), 'every request carries it in Authorization, none in its URL')
    await page.reload()
    await t.resolves(
      waitFor(() => figuresShown(page)),
      'after a reload, still figures (the tab kept the token)',
    )
  })

  await t.test('through the form; a wrong token is refused with a message that says so', async (t) => {
    const { page } = await open(bare)
    await status(page)
      .filter({ hasText: /^Not allowed/ })
      .waitFor({ timeout: 20_000 })
    await page.getByRole('textbox', { name: 'Token', exact: true }).fill('not-the-token')
    await page.getByRole('button', { name: 'Use token' }).click()
    await status(page)
      .filter({ hasText: /refused this operator token/ })
      .waitFor({ timeout: 10_000 })
    t.match(await status(page).textContent(), /^Not allowed: .*refused this operator token\. Check it/)
    await page.getByRole('textbox', { name: 'Token', exact: true }).fill(token!)
    await page.getByRole('button', { name: 'Use token' }).click()
    await t.resolves(
      waitFor(() => figuresShown(page)),
      'the right token: figures',
    )
    t.equal(await page.getByRole('textbox', { name: 'Token', exact: true }).inputValue(), '', 'the field does not keep it on show')
    await page.getByRole('button', { name: 'Forget token' }).click()
    await status(page)
      .filter({ hasText: /^Not allowed/ })
      .waitFor({ timeout: 10_000 })
    t.equal(await page.evaluate(() => sessionStorage.getItem('chorus-operator-token')), null, 'forgotten')
  })
})

async function waitFor(check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error('timed out')
    await new Promise((r) => setTimeout(r, 50))
  }
}
