import { mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type BrowserContext, chromium } from 'playwright-core'
import t from 'tap'
import { createClient } from '../../client-sdk/index.js'
import { DEMO_API_KEY, DEMO_TRACKS } from '../../origin/index.js'
import { type SignedManifest, chunkPath, decryptChunk, fromBase64Url, importManifestPublicKey, importTrackKey, verifySignedManifest } from '../../protocol/index.js'
import { DEMO_MARKER } from '../index.js'
import { startChorusStack } from '../../test-support/chorus.js'
import { tempDataDir } from '../../test-support/fixtures.js'
import { CHROMIUM, PLAYER_CHROMIUM_ARGS } from '../../test-support/chromium.js'

// `chorus start --cloudflare` on an empty data directory: every part in workerd through wrangler
// dev (the origin Worker over local R2 with its key vault, the tracker's Durable Object, the
// edge Worker), the demo catalog ingested into the bucket. Then what a listener does with it:
// a Node SDK client plays a track through the edge with its key from the origin Worker, a
// second one takes bytes from the first over WebRTC (introduced by the tracker's Durable
// Object), and Chromium plays a track in the web player the edge serves.

const TRACK = DEMO_TRACKS[0]!
const QUALITY = 96

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 250))
  }
}

/** Processes of this machine whose environment holds `needle` (a run's operator token: every process a stack started inherits it, workerd too). */
async function processesWith(needle: string): Promise<string[]> {
  const found: string[] = []
  for (const pid of (await readdir('/proc')).filter((n) => /^\d+$/.test(n))) {
    const environ = await readFile(`/proc/${pid}/environ`, 'latin1').catch(() => '')
    if (environ.split('\0').includes(needle)) found.push(`${pid} ${(await readFile(`/proc/${pid}/cmdline`, 'latin1').catch(() => '')).replaceAll('\0', ' ').slice(0, 120)}`)
  }
  return found
}

async function drain(stream: ReadableStream<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = []
  for await (const part of stream as unknown as AsyncIterable<Uint8Array>) parts.push(part)
  return Buffer.concat(parts)
}

t.test('chorus start --cloudflare: the stack in workerd alone; the SDK in Node and the web player in Chromium play from it', async (t) => {
  const dataDir = await tempDataDir(t, 'chorus-cloudflare')
  const stack = await startChorusStack(t, dataDir, ['--cloudflare', '--demo-count', '1', '--demo-duration', '30'])
  const urls = stack.readyValue as unknown as Record<string, string>
  t.match(urls, { ready: true, player: /^http:\/\/127\.0\.0\.1:\d+\/$/, operator: /\/operator#operator=/, tracker: /^ws:\/\/127\.0\.0\.1:\d+\/announce$/ }, 'the ready line of chorus start')
  t.not(urls.origin, urls.edge)

  // The Workers' secrets stay with the operator.
  for (const file of ['origin.env', 'tracker.env']) t.equal((await stat(join(dataDir, 'cloudflare', file))).mode & 0o777, 0o600, `cloudflare/${file} is 0600`)
  // No Node origin: the origin answers as the Worker does, from R2 and its key vault.
  const health = (await (await fetch(`${urls.origin}/healthz`)).json()) as { ok: boolean; keyId: string }
  t.equal(health.ok, true)

  await until('the demo track in the catalog through the edge', async () => {
    const res = await fetch(`${urls.edge}/v1/tracks`)
    return ((await res.json()) as { tracks: Array<{ trackId: string }> }).tracks.some((e) => e.trackId === TRACK.id)
  })

  // What the track holds, fetched and opened without the SDK: the manifest through the edge,
  // checked with the origin's public key; the key from the origin Worker for a session token.
  const { publicKey } = (await (await fetch(`${urls.origin}/v1/origin-key`)).json()) as { publicKey: string }
  const signed = (await (await fetch(`${urls.edge}/v1/tracks/${TRACK.id}/manifest`)).json()) as SignedManifest
  const manifest = await verifySignedManifest(signed, await importManifestPublicKey(publicKey))
  const q = manifest.qualities.find((x) => x.bitrate === QUALITY)!
  const session = (await (await fetch(`${urls.origin}/v1/session`, { method: 'POST', headers: { 'x-api-key': DEMO_API_KEY } })).json()) as { token: string }
  const keyRes = await fetch(`${urls.origin}/v1/tracks/${TRACK.id}/key`, { headers: { authorization: `Bearer ${session.token}` } })
  t.equal(keyRes.status, 200, 'the key vault gives the key to a session token')
  const key = await importTrackKey(((await keyRes.json()) as { key: string }).key)
  const plain: Uint8Array[] = q.codec === 'aac' ? [fromBase64Url(q.init)] : []
  for (let i = 0; i < q.chunkCount; i++) {
    const res = await fetch(`${urls.edge}${chunkPath({ trackId: TRACK.id, version: manifest.version, bitrate: QUALITY, index: i })}`)
    plain.push(await decryptChunk(key, q.nonce, i, q.chunkSize, new Uint8Array(await res.arrayBuffer())))
  }
  const reference = Buffer.concat(plain)

  await t.test('the Node SDK plays through the edge, and a second listener takes bytes from the first over WebRTC', async (t) => {
    const client = async (speed: number) => {
      const dir = await mkdtemp(join(tmpdir(), 'chorus-cloudflare-cache-'))
      const c = await createClient({ edge: urls.edge!, keys: urls.origin!, tracker: urls.tracker!, apiKey: DEMO_API_KEY, publicKey, cache: { dir }, speed })
      t.teardown(async () => {
        await c.close()
        await rm(dir, { recursive: true, force: true })
      })
      return c
    }
    const a = await client(0)
    const pa = a.play(TRACK.id, { quality: QUALITY })
    t.ok((await drain(pa.stream)).equals(reference), 'the first listener hears exactly what the origin encrypted')
    t.ok(pa.stats()!.bytes.edge > 0, 'from the edge')

    // The first listener keeps the track and serves it; the second plays it in a few seconds.
    const b = await client(6)
    const pb = b.play(TRACK.id, { quality: QUALITY })
    t.ok((await drain(pb.stream)).equals(reference), 'the second listener hears exactly what the origin encrypted')
    const stats = pb.stats()!
    t.ok(stats.bytes.peer > 0, `bytes from the first listener over WebRTC (peer ${stats.bytes.peer}, edge ${stats.bytes.edge})`)
    t.equal(stats.chunksRejected, 0)
  })

  await t.test('Chromium plays the track in the web player the edge serves', async (t) => {
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [...PLAYER_CHROMIUM_ARGS],
    })
    t.teardown(() => browser.close())
    const context: BrowserContext = await browser.newContext()
    // The page's config.json is built into client-sdk/player/dist, which every stack started from
    // this checkout shares (another test's `chorus start` may rewrite it while this one runs):
    // this stack's own config is given to the page instead.
    await context.route(
      (url) => url.pathname === '/config.json',
      (route) => route.fulfill({ json: { tracker: urls.tracker, origin: urls.origin, apiKey: DEMO_API_KEY, publicKey, p2p: true } }),
    )
    const page = await context.newPage()
    await page.goto(urls.player!)
    await page.getByRole('button', { name: `Play ${TRACK.title}` }).click()
    const currentTime = () => page.evaluate(() => (window as unknown as { chorus: { currentTime(): number } }).chorus.currentTime())
    await until('audio in the page', async () => (await currentTime()) > 1)
    t.ok((await currentTime()) > 1, 'the page plays')
    const edgeBytes = await page.evaluate(() => (window as unknown as { chorus: { stats(): { bytes: { edge: number; peer: number } } | undefined } }).chorus.stats()?.bytes)
    t.ok(edgeBytes && edgeBytes.edge + edgeBytes.peer > 0, `the page's bytes came from the edge and peers (${JSON.stringify(edgeBytes)})`)
  })
  await t.test('Ctrl-C stops every process the stack started, workerd too, a catalog build under way too; the next start goes on with the same bucket and keys', async (t) => {
    const stopCleanly = async (run: typeof stack, what: string) => {
      const token = `CHORUS_OPERATOR_TOKEN=${(run.readyValue as unknown as Record<string, string>).operatorToken}`
      t.ok(
        (await processesWith(token)).some((p) => p.includes('workerd')),
        `${what}: workerd runs with this run's environment`,
      )
      const exit = await run.stop(30_000, 'SIGINT')
      t.equal(exit.code, 0, `${what}: chorus start exits 0`)
      t.same(await processesWith(token), [], `${what}: nothing of it is left running`)
    }
    await stopCleanly(stack, 'a complete catalog')

    // As after a first run stopped part way (its marker beside the bucket): this start goes on with
    // the demo catalog, two more tracks, long ones, into the bucket the first one filled, and is
    // still building them when it is ready.
    await writeFile(join(dataDir, 'cloudflare', DEMO_MARKER), '{}\n')
    const again = await startChorusStack(t, dataDir, ['--cloudflare', '--demo-count', '3', '--demo-duration', '120'])
    const next = again.readyValue as unknown as Record<string, unknown>
    t.match(next, { catalog: 'building', tracks: 1 }, "the first start's track is in the catalog at once, and the build goes on")
    const session = (await (await fetch(`${next.origin}/v1/session`, { method: 'POST', headers: { 'x-api-key': DEMO_API_KEY } })).json()) as { token: string }
    const res = await fetch(`${next.origin}/v1/tracks/${TRACK.id}/key`, { headers: { authorization: `Bearer ${session.token}` } })
    t.equal(res.status, 200, 'the key vault still opens its keys (the wrapping key is kept in the data directory)')
    await res.body?.cancel()
    await stopCleanly(again, 'a catalog build under way')
  })
})
