import { dirname, join } from 'node:path'
import { mkdtemp } from 'node:fs/promises'
import { rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { bundleWorkerScript } from '../../support/worker-bundle.js'
import { Miniflare } from 'miniflare'
import t from 'tap'
import { type SignedManifest, chunkMatches, chunkPath, importManifestPublicKey, verifySignedManifest } from '../../protocol/index.js'
import { COMPATIBILITY_DATE, ROOT, ingestInto, startWorkerOriginWith, until } from './helpers/index.js'

/** The edge Worker (edge/src/worker.ts) bundled as wrangler would: the real edge, not a stand-in. */
async function bundleEdge(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'chorus-edge-for-origin-'))
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }))
  return bundleWorkerScript(join(ROOT, 'edge/src/worker.ts'), join(dir, 'worker.js'))
}

// The distributed path end to end, both halves in workerd: the edge Worker with ORIGIN_URL set to
// the origin Worker over R2. The edge checks every chunk against the signed manifest before it
// caches it, so a stream that plays through it proves the Worker origin serves what it signed.
t.test('the edge Worker in front of the origin Worker', async (t) => {
  const origin = await startWorkerOriginWith(t)
  const { version } = await ingestInto(origin, 'song')
  await until(async () => (await fetch(`${origin.url}/v1/tracks/song/manifest`)).status === 200, 'the track at the origin')
  const script = await bundleEdge()
  const edge = new Miniflare({
    modules: true,
    scriptPath: script,
    modulesRoot: dirname(script),
    compatibilityDate: COMPATIBILITY_DATE,
    bindings: { ORIGIN_URL: origin.url, ORIGIN_PUBLIC_KEY: origin.keys.publicKey, READ_AHEAD: '0' },
  })
  t.teardown(() => edge.dispose())
  const edgeUrl = (await edge.ready).href.replace(/\/$/, '')

  const catalog = (await (await fetch(`${edgeUrl}/v1/tracks`)).json()) as { tracks: Array<{ trackId: string; version: string }> }
  t.same(
    catalog.tracks.map((e) => [e.trackId, e.version]),
    [['song', version]],
    'the catalog through the edge',
  )
  const signed = (await (await fetch(`${edgeUrl}/v1/tracks/song/manifest`)).json()) as SignedManifest
  const manifest = await verifySignedManifest(signed, await importManifestPublicKey(origin.keys.publicKey))
  for (const q of manifest.qualities) {
    for (let index = 0; index < q.chunkCount; index++) {
      const path = chunkPath({ trackId: 'song', version, bitrate: q.bitrate, index })
      const first = await fetch(`${edgeUrl}${path}`)
      const second = await fetch(`${edgeUrl}${path}`)
      const [a, b] = [new Uint8Array(await first.arrayBuffer()), new Uint8Array(await second.arrayBuffer())]
      if (first.status !== 200 || !(await chunkMatches(a, q.hashes[index]!)) || second.status !== 200 || !(await chunkMatches(b, q.hashes[index]!))) t.fail(`${path} through the edge`)
      if (index === 0) t.match(second.headers.get('cache-status'), /hit/, 'the second request is a hit at the edge')
    }
  }
  const part = await fetch(`${edgeUrl}${chunkPath({ trackId: 'song', version, bitrate: 96, index: 0 })}`, { headers: { range: 'bytes=0-9' } })
  t.equal(part.status, 206)
  t.equal((await part.arrayBuffer()).byteLength, 10)
  const missing = await fetch(`${edgeUrl}/v1/tracks/nope/manifest`)
  t.equal(missing.status, 404, "the origin Worker's 404 passes through the edge")
  t.equal(((await missing.json()) as { error: { code: string } }).error.code, 'track_not_found')
})
