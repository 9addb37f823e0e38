// Issue 15, finding 5: the SDK trusted the manifest-signing key the edge handed it, and took a
// signed manifest of another track for the one it asked for (and cached it). A hostile edge (a
// proxy in front of the real edge) swaps manifests and keys; the SDK refuses with a typed error
// and caches nothing. No session, key or origin-key request ever reaches the edge: `keys` (the
// key service) is required, with no fallback to the edge.

import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { HEAD_MIME, type Manifest, encodeHead, publicKeyId, signManifest, toBase64Url } from '../../protocol/index.js'
import { type ChorusWarning, createClient } from '../index.js'
import { startHostileEdge } from './hostile-edge.js'
import { API_KEY, drain, startStack } from './stack.js'

/** The cache's entries (manifests and chunks) on disk. */
async function files(dir: string): Promise<string[]> {
  const entries = await readdir(join(dir, 'chunks'), { recursive: true, withFileTypes: true }).catch(() => [])
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath ?? '', e.name))
}

/** A track's head (protocol/src/head.ts) carrying the manifest document given and no chunk. */
const forgedHead = (doc: string) => ({ body: encodeHead(doc, 96, []), type: HEAD_MIME })

const keyRequest = (p: string) => p === '/v1/session' || p === '/v1/origin-key' || /^\/v1\/tracks\/[^/]+\/key/.test(p)

t.test('a hostile edge is refused; keys and sessions never pass through it', async (t) => {
  const stack = await startStack(
    t,
    [
      { trackId: 'song', seconds: 8 },
      { trackId: 'other', seconds: 8 },
    ],
    { bitrates: [96] },
  )
  const otherDoc = await (await fetch(`${stack.origin.url}/v1/tracks/other/manifest`)).text()

  t.test("another track's signed manifest for the one asked (alone or in a head): invalid_manifest, nothing cached, no chunk fetched", async (t) => {
    const edge = await startHostileEdge(t, stack.edge.url)
    edge.forge = (path) => (path === '/v1/tracks/song/manifest' ? { body: otherDoc } : path.startsWith('/v1/tracks/song/head') ? forgedHead(otherDoc) : undefined)
    const { client, dir } = await stack.client({ edge: edge.url, p2p: false })
    const p = client.play('song')
    await t.rejects(p.ready, { name: 'ChorusError', code: 'invalid_manifest', message: /song.*other/ })
    await client.close()
    t.same(await files(dir), [], 'the cache holds nothing: no manifest, no chunk')
    t.equal(
      edge.count((x) => x.startsWith('/v1/chunks/')),
      0,
      'no chunk was asked for',
    )
  })

  t.test("another track's manifest in the cache is refused too (the edge unreachable)", async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'chorus-sdk-poisoned-'))
    t.teardown(() => rm(dir, { recursive: true, force: true }))
    await mkdir(join(dir, 'chunks', 'm'), { recursive: true })
    await writeFile(join(dir, 'chunks', 'm', 'song.json'), otherDoc)
    const client = await createClient({ edge: 'http://127.0.0.1:9', keys: stack.origin.url, apiKey: API_KEY, publicKey: stack.publicKey, cache: { dir }, p2p: false })
    t.teardown(() => client.close())
    await t.rejects(client.play('song').ready, { code: 'invalid_manifest' })
  })

  t.test('a hostile edge that serves its own key and manifests signed with it: refused, the key is taken from the key service', async (t) => {
    const pair = (await crypto.subtle.generateKey({ name: 'Ed25519' }, true, ['sign', 'verify'])) as CryptoKeyPair
    const raw = new Uint8Array(await crypto.subtle.exportKey('raw', pair.publicKey))
    const keyId = await publicKeyId(raw)
    const real = (await (await fetch(`${stack.origin.url}/v1/tracks/song/manifest`)).json()) as { manifest: Manifest }
    const forged = await signManifest({ ...real.manifest, title: 'forged' }, pair.privateKey, keyId)
    const edge = await startHostileEdge(t, stack.edge.url)
    edge.forge = (path) => {
      if (path === '/v1/origin-key') return { body: JSON.stringify({ alg: 'Ed25519', publicKey: toBase64Url(raw), keyId }) }
      if (path === '/v1/tracks/song/manifest') return { body: JSON.stringify(forged) }
      if (path.startsWith('/v1/tracks/song/head')) return forgedHead(JSON.stringify(forged))
      return undefined
    }
    const { client, dir } = await stack.client({ edge: edge.url, publicKey: undefined, p2p: false })
    await t.rejects(client.play('song').ready, { code: 'invalid_manifest', message: /unknown key/ })
    await client.close()
    t.equal(
      edge.count((x) => x === '/v1/origin-key'),
      0,
      "the edge was never asked for the key: the key service's was used",
    )
    t.same(await files(dir), [], 'nothing cached')
  })

  t.test('a whole play sends no session, key or origin-key request to the edge', async (t) => {
    const edge = await startHostileEdge(t, stack.edge.url)
    const warnings: ChorusWarning[] = []
    const { client } = await stack.client({ edge: edge.url, publicKey: undefined, p2p: false, speed: 0, onWarning: (w) => warnings.push(w) })
    t.ok((await drain(client.play('song', { quality: 96 }).stream)).equals(await stack.reference('song', 96)), 'the track plays byte for byte')
    t.ok(edge.count((x) => x.startsWith('/v1/chunks/')) > 0, 'chunks came through the edge')
    t.equal(edge.count(keyRequest), 0, 'no session, key or origin-key request reached the edge')
    t.same(warnings, [], 'and no warning')
  })

  t.test('without keys, createClient refuses (bad_option naming it) and nothing reaches the edge', async (t) => {
    const edge = await startHostileEdge(t, stack.edge.url)
    const warnings: ChorusWarning[] = []
    const options = { edge: edge.url, apiKey: API_KEY, cache: false as const, p2p: false, onWarning: (w: ChorusWarning) => warnings.push(w) }
    // The type says keys is required; an app in plain JavaScript (or a cast) can still leave it out.
    await t.rejects(createClient(options as unknown as Parameters<typeof createClient>[0]), { name: 'ChorusError', code: 'bad_option', message: /\bkeys\b.*key service/ })
    await t.rejects(createClient({ ...options, keys: 'edge' }), { code: 'bad_option', message: /\bkeys\b/ }, 'nor a keys that is not an http(s) URL')
    t.equal(
      edge.count(() => true),
      0,
      'no request of any kind reached the edge: no session, no key, no origin key',
    )
    t.same(warnings, [], 'an error, not a warning')
  })
})
