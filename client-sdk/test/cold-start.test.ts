// A cold play's requests, as the services see them: one to the key service (the session, carrying
// the track's key) and one to the edge (the head: manifest and first chunks), at once; a cached
// track replays from the device (manifest and key lease) without waiting on either. Recorded at
// the SDK's injected fetch, in front of the real edge (workerd) and origin.

import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { ingestFile } from '../../origin/index.js'
import { loadOriginKeys } from '../../origin/index.js'
import { makeWav } from '../../test-support/fixtures.js'
import { type ClientOptions, createClient } from '../index.js'
import { API_KEY, drain, startStack } from './stack.js'

interface Logged {
  method: string
  path: string
  body: string | undefined
  start: number
  end: number
}

/**
 * Logs every request the SDK makes. With `holdHead`, a head's answer is held until the session
 * request has left (5 s at most): an SDK that asked for the key only after the head would show it
 * as a request that starts after the head ends, however fast the machine.
 */
function recordingFetch(options: { holdHead?: boolean } = {}) {
  const log: Logged[] = []
  let sessionLeft!: () => void
  const sessionRequested = new Promise<void>((resolve) => (sessionLeft = resolve))
  const wrapped: typeof fetch = async (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input))
    const entry: Logged = {
      method: init?.method ?? 'GET',
      path: url.pathname + url.search,
      body: typeof init?.body === 'string' ? init.body : undefined,
      start: performance.now(),
      end: Number.POSITIVE_INFINITY,
    }
    log.push(entry)
    if (url.pathname === '/v1/session') sessionLeft()
    if (options.holdHead && url.pathname.endsWith('/head')) await Promise.race([sessionRequested, new Promise((resolve) => setTimeout(resolve, 5000))])
    const res = await fetch(input, init)
    // The body is what the SDK waits for: the request ends when its bytes are in.
    const body = await res.arrayBuffer()
    entry.end = performance.now()
    return new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers })
  }
  return { log, fetch: wrapped }
}

const keysAsked = (r: Logged) => (r.body ? ((JSON.parse(r.body) as { keys?: string[] }).keys ?? []) : [])

/** The next client on this device (the same cache directory), its requests logged: P2P off, as fast as it goes. */
async function nextClient(t: Test, stack: Awaited<ReturnType<typeof startStack>>, dir: string, fetchImpl: typeof fetch, extra: Partial<ClientOptions> = {}) {
  const client = await createClient({ edge: stack.edge.url, keys: stack.origin.url, apiKey: API_KEY, publicKey: stack.publicKey, cache: { dir }, p2p: false, speed: 0, fetch: fetchImpl, ...extra })
  t.teardown(() => client.close())
  return client
}

t.test('a cold play: the session carrying the key, and the head, at once; a replay from the device', async (t) => {
  const stack = await startStack(t, [{ trackId: 'one', seconds: 12 }])
  const reference = await stack.reference('one', 96)
  const rec = recordingFetch({ holdHead: true })
  const { client, dir } = await stack.client({ p2p: false, speed: 0, fetch: rec.fetch })

  const p = client.play('one', { quality: 96 })
  t.ok((await drain(p.stream)).equals(reference), 'the track plays byte for byte')
  const sessions = rec.log.filter((r) => r.path === '/v1/session')
  t.equal(sessions.length, 1, 'one session for the whole client')
  t.same(keysAsked(sessions[0]!), ['one'], "the play's key rode in the session request")
  t.equal(rec.log.filter((r) => r.path.includes('/key')).length, 0, 'no key request of its own')
  const head = rec.log.find((r) => r.path.startsWith('/v1/tracks/one/head'))!
  t.equal(head.path, '/v1/tracks/one/head?kbps=96', 'the head of the quality asked for')
  t.ok(sessions[0]!.start < head.end && head.start < sessions[0]!.end, 'the head and the session were in flight together')
  t.equal(rec.log.filter((r) => r.path.endsWith('/manifest')).length, 0, 'no manifest request: the head carried it')
  t.notOk(
    rec.log.some((r) => r.path.startsWith('/v1/chunks/one/') && r.path.endsWith('/96/0')),
    'chunk 0 came in the head, not on its own',
  )

  // The same client: nothing asked before the audio; the manifest revalidated behind it.
  const before = rec.log.length
  const again = client.play('one', { quality: 96 })
  const start = await again.ready
  t.ok(start.fromCache, 'a replay starts from the cache')
  t.ok((await drain(again.stream)).equals(reference))
  t.same(
    // (The last chunk's cache write may still have been under way: the edge gives that one again.)
    rec.log
      .slice(before)
      .map((r) => r.path)
      .filter((path) => !path.startsWith('/v1/chunks/')),
    ['/v1/tracks/one/manifest'],
    'a replay asks only for the manifest, in the background: the key is held, the manifest cached',
  )
  await client.close()

  // The next client on this device: the key lease lets the cached track play with no key request.
  const rec2 = recordingFetch()
  const next = await nextClient(t, stack, dir, rec2.fetch)
  const third = next.play('one', { quality: 96 })
  t.ok((await third.ready).fromCache)
  t.ok((await drain(third.stream)).equals(reference))
  t.equal(rec2.log.filter((r) => r.path.includes('/key') || keysAsked(r).length > 0).length, 0, 'no key asked for: the lease held it')

  // keyCache: false: nothing written down, so the key is asked for again.
  const rec3 = recordingFetch()
  const forgetful = await nextClient(t, stack, dir, rec3.fetch, { keyCache: false })
  t.ok((await drain(forgetful.play('one', { quality: 96 }).stream)).equals(reference))
  t.ok(
    rec3.log.some((r) => r.path.includes('/key') || keysAsked(r).includes('one')),
    'with keyCache: false the key service is asked (the lease of the first client still on disk is not read)',
  )
})

t.test('an expired lease is not used: the key service is asked again', async (t) => {
  const stack = await startStack(t, [{ trackId: 'one', seconds: 6 }])
  const reference = await stack.reference('one', 96)
  const { client, dir } = await stack.client({ p2p: false, speed: 0, keyCache: { ttlSec: 0 } })
  t.ok((await drain(client.play('one', { quality: 96 }).stream)).equals(reference))
  await client.close()
  const rec = recordingFetch()
  const next = await nextClient(t, stack, dir, rec.fetch)
  t.ok((await drain(next.play('one', { quality: 96 }).stream)).equals(reference))
  t.ok(
    rec.log.some((r) => r.path.includes('/key') || keysAsked(r).includes('one')),
    'the lease had run out',
  )
})

t.test("leases run out while the listener is away: the next client renews its cached tracks' keys in one request once its first audio is out, and a cached track then asks for nothing", async (t) => {
  const stack = await startStack(t, [
    { trackId: 'one', seconds: 6 },
    { trackId: 'two', seconds: 6 },
    { trackId: 'three', seconds: 6 },
  ])
  const { client, dir } = await stack.client({ p2p: false, speed: 0, keyCache: { ttlSec: 0 } })
  for (const id of ['one', 'two']) await drain(client.play(id, { quality: 96 }).stream)
  await client.close()
  const rec = recordingFetch()
  const next = await nextClient(t, stack, dir, rec.fetch)
  // A cold track first: its first audio sets off the renewal.
  t.ok((await drain(next.play('three', { quality: 96 }).stream)).equals(await stack.reference('three', 96)))
  const deadline = Date.now() + 10_000
  while (!rec.log.some((r) => r.path === '/v1/keys' && r.end < Number.POSITIVE_INFINITY) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
  const batch = rec.log.filter((r) => r.path === '/v1/keys')
  t.equal(batch.length, 1, 'one request for the keys')
  t.same(new Set((JSON.parse(batch[0]!.body!) as { tracks: string[] }).tracks), new Set(['one', 'two']), 'the cached tracks whose leases ran out, not the one just played')
  const before = rec.log.length
  for (const id of ['one', 'two']) t.ok((await drain(next.play(id, { quality: 96 }).stream)).equals(await stack.reference(id, 96)))
  const asked = rec.log.slice(before).filter((r) => r.path.includes('/key') || r.path === '/v1/session')
  t.same(asked, [], 'the cached plays asked the key service nothing')
})

t.test('renew: 0 keeps the old way: a cached track whose lease ran out asks for its key as it plays', async (t) => {
  const stack = await startStack(t, [{ trackId: 'one', seconds: 6 }])
  const { client, dir } = await stack.client({ p2p: false, speed: 0, keyCache: { ttlSec: 0 } })
  await drain(client.play('one', { quality: 96 }).stream)
  await client.close()
  const rec = recordingFetch()
  const next = await nextClient(t, stack, dir, rec.fetch, { keyCache: { renew: 0 } })
  t.ok((await drain(next.play('one', { quality: 96 }).stream)).equals(await stack.reference('one', 96)))
  await new Promise((resolve) => setTimeout(resolve, 1500))
  t.notOk(
    rec.log.some((r) => r.path === '/v1/keys'),
    'no renewal',
  )
  t.ok(
    rec.log.some((r) => r.path.includes('/key') || keysAsked(r).includes('one')),
    'the play asked for its key',
  )
})

t.test("a new version published between the head and the session's key: the key of the head's version is used", async (t) => {
  const stack = await startStack(t, [{ trackId: 'one', seconds: 8 }])
  const reference = await stack.reference('one', 96)
  const rec = recordingFetch()
  // The head (version 1) goes through at once and a second version is published right after;
  // the session request (with the early key) is held until the origin sees the new version as
  // current, so its key names version 2 while the head names version 1.
  let republished: Promise<unknown> | undefined
  const racing: typeof fetch = async (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input))
    if (url.pathname === '/v1/tracks/one/head' && !republished) {
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
    if (url.pathname === '/v1/session') {
      while (!republished) await new Promise((resolve) => setTimeout(resolve, 10))
      await republished
    }
    return rec.fetch(input, init)
  }
  const { client } = await stack.client({ p2p: false, speed: 0, fetch: racing })
  const p = client.play('one', { quality: 96 })
  const out = await drain(p.stream)
  t.same(keysAsked(rec.log.find((r) => r.path === '/v1/session')!), ['one'], 'the early key rode in the session')
  const keyRequests = rec.log.filter((r) => r.path.startsWith('/v1/tracks/one/key')).map((r) => r.path)
  t.equal(keyRequests.length, 1, "then the key of the head's version, asked for on its own")
  t.match(keyRequests[0], /\?version=/)
  t.ok(out.equals(reference), 'the audio is version 1, byte for byte: the manifest it played, under its own key')
})
