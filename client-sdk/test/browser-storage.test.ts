// The browser cache backend in Chromium's own Cache Storage: bytes round-trip, and list() gives
// entries least recently used first, after a reload too (Cache Storage keeps no access times of
// its own), which the chunk cache needs to evict in order and to seed the tracks played last.

import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { build } from 'esbuild'
import { chromium } from 'playwright-core'
import t from 'tap'
import { CHROMIUM } from '../../test-support/chromium.js'

t.test('Cache Storage entries list least recently used first, across a reload', async (t) => {
  const bundle = await build({
    entryPoints: [new URL('../src/cache/browser-storage.ts', import.meta.url).pathname],
    bundle: true,
    format: 'esm',
    write: false,
    platform: 'browser',
  })
  const script = bundle.outputFiles[0]!.text
  // The page's own code is plain JavaScript here: functions passed to page.evaluate from a
  // TypeScript test get the loader's helpers compiled in, which the page does not have.
  const page = `<!doctype html><script type="module">
    import { createBrowserStorage } from '/storage.js'
    // A short save delay, so the notes reach Cache Storage within the test.
    const storage = createBrowserStorage('test-chunks', { saveAfterMs: 50 })
    const pause = () => new Promise((r) => setTimeout(r, 5))
    window.listKeys = async () => (await storage.list()).map((e) => e.key + ':' + e.size)
    window.firstVisit = async () => {
      // An entry put there by something that kept no notes (an older SDK): it counts as oldest.
      await (await caches.open('test-chunks')).put('https://chorus.cache/old/0', new Response(new Uint8Array(3), { headers: { 'content-length': '3' } }))
      for (const key of ['t1/0', 't2/0', 't3/0']) {
        await storage.put(key, new Uint8Array(key === 't2/0' ? 10 : 20).fill(7))
        await pause()
      }
      const back = await storage.get('t1/0')
      await pause()
      return { back: back ? [...back] : undefined, missing: await storage.get('nothing/0') }
    }
    window.secondVisit = async () => {
      await storage.delete('t3/0')
      await storage.get('t2/0')
    }
    window.ready = true
  </script>`
  const server = createServer((req, res) => {
    if (req.url === '/storage.js') res.writeHead(200, { 'content-type': 'text/javascript' }).end(script)
    else res.writeHead(200, { 'content-type': 'text/html' }).end(page)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`

  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'] })
  t.teardown(() => browser.close())
  const context = await browser.newContext()

  const open = async () => {
    const p = await context.newPage()
    await p.goto(origin)
    await p.waitForFunction('window.ready === true')
    return p
  }
  const keysOf = (p: Awaited<ReturnType<typeof open>>) => p.evaluate('window.listKeys()') as Promise<string[]>

  const first = await open()
  const got = (await first.evaluate('window.firstVisit()')) as { back?: number[]; missing?: unknown }
  t.same(got.back, new Array(20).fill(7), 'bytes come back as they were put')
  t.equal(got.missing, undefined, 'a key never put is undefined')
  t.same(await keysOf(first), ['old/0:3', 't2/0:10', 't3/0:20', 't1/0:20'], 'least recently used first: the read of t1 made it the newest')

  await first.waitForTimeout(300)
  await first.close()
  const second = await open()
  t.same(await keysOf(second), ['old/0:3', 't2/0:10', 't3/0:20', 't1/0:20'], 'the same order after a reload')
  await second.evaluate('window.secondVisit()')
  t.same(await keysOf(second), ['old/0:3', 't1/0:20', 't2/0:10'], 'a delete is gone from the list, a read moves to the end')
})
