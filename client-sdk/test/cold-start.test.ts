// A cold play's requests, as the services see them: the session is asked for when the client is
// created, the key alongside the manifest, and each only once. Recorded at the SDK's injected
// fetch, in front of the real edge (workerd) and origin.

import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { ingestFile } from '../../origin/index.js'
import { loadOriginKeys } from '../../origin/index.js'
import { makeWav } from '../../test-support/fixtures.js'
import { drain, startStack } from './stack.js'

interface Logged {
  method: string
  path: string
  start: number
  end: number
}

/**
 * Logs every request the SDK makes. With `holdManifest`, a manifest's answer is held until a key
 * request has left (5 s at most): an SDK that asked for the key only after the manifest would
 * show it as a key request that starts after the manifest ends, however fast the machine.
 */
function recordingFetch(options: { holdManifest?: boolean } = {}) {
  const log: Logged[] = []
  let keyLeft!: () => void
  const keyRequested = new Promise<void>((resolve) => (keyLeft = resolve))
  const wrapped: typeof fetch = async (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input))
    const entry: Logged = { method: init?.method ?? 'GET', path: url.pathname + url.search, start: performance.now(), end: Number.POSITIVE_INFINITY }
    log.push(entry)
    if (url.pathname.endsWith('/key')) keyLeft()
    if (options.holdManifest && url.pathname.endsWith('/manifest')) await Promise.race([keyRequested, new Promise((resolve) => setTimeout(resolve, 5000))])
    const res = await fetch(input, init)
    // The body is what the SDK waits for: the request ends when its bytes are in.
    const body = await res.arrayBuffer()
    entry.end = performance.now()
    return new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers })
  }
  return { log, fetch: wrapped }
}

t.test('a cold play: session at creation, key alongside the manifest, one of each', async (t) => {
  const stack = await startStack(t, [{ trackId: 'one', seconds: 12 }])
  const reference = await stack.reference('one', 96)
  const rec = recordingFetch({ holdManifest: true })
  const { client } = await stack.client({ p2p: false, speed: 0, fetch: rec.fetch })
  const created = performance.now()
  const session = rec.log.find((r) => r.path === '/v1/session')
  t.ok(session && session.start <= created, 'the session request left while the client was created, before any play')

  const p = client.play('one', { quality: 96 })
  t.ok((await drain(p.stream)).equals(reference), 'the track plays byte for byte')
  const manifest = rec.log.find((r) => r.path === '/v1/tracks/one/manifest')!
  const keys = rec.log.filter((r) => r.path.startsWith('/v1/tracks/one/key'))
  t.equal(keys.length, 1, 'one key request')
  t.equal(keys[0]!.path, '/v1/tracks/one/key', 'for the current version, before the manifest named it')
  t.ok(keys[0]!.start < manifest.end, 'the key request did not wait for the manifest')
  t.equal(rec.log.filter((r) => r.path === '/v1/session').length, 1, 'one session for the whole client')

  const again = client.play('one', { quality: 96 })
  await drain(again.stream)
  t.equal(rec.log.filter((r) => r.path.startsWith('/v1/tracks/one/key')).length, 1, 'a replay asks for no key: it is held for the session')
})

t.test("a new version published between the manifest and the early key: the key of the manifest's version is used", async (t) => {
  const stack = await startStack(t, [{ trackId: 'one', seconds: 8 }])
  const reference = await stack.reference('one', 96)
  const rec = recordingFetch()
  // The manifest (version 1) goes through at once and a second version is published right after;
  // the early key request is held until the origin sees the new version as current, so its answer
  // names version 2 while the manifest names version 1.
  let republished: Promise<unknown> | undefined
  const racing: typeof fetch = async (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input))
    if (url.pathname === '/v1/tracks/one/manifest' && !republished) {
      const res = await rec.fetch(input, init)
      republished = (async () => {
        const keys = await loadOriginKeys(stack.dataDir)
        await writeFile(join(stack.dataDir, 'one-v2.wav'), makeWav(9))
        await ingestFile(join(stack.dataDir, 'one-v2.wav'), { trackId: 'one', title: 'one' }, { dataDir: stack.dataDir, keys, bitrates: [96], chunkSize: 16384 })
        // The origin reads `current` again after a second.
        await new Promise((resolve) => setTimeout(resolve, 1100))
      })()
      return res
    }
    if (url.pathname === '/v1/tracks/one/key' && !url.search) {
      while (!republished) await new Promise((resolve) => setTimeout(resolve, 10))
      await republished
    }
    return rec.fetch(input, init)
  }
  const { client } = await stack.client({ p2p: false, speed: 0, fetch: racing })
  const p = client.play('one', { quality: 96 })
  const out = await drain(p.stream)
  const keyRequests = rec.log.filter((r) => r.path.startsWith('/v1/tracks/one/key')).map((r) => r.path)
  t.equal(keyRequests.length, 2, "the early key, then the key of the manifest's version")
  t.match(keyRequests[1], /\?version=/)
  t.ok(out.equals(reference), 'the audio is version 1, byte for byte: the manifest it played, under its own key')
})
