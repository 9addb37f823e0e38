import t from 'tap'
import { type SignedManifest, chunkPath } from '../../protocol/index.js'
import { ingestInto, signingKeyText, startNodeOrigin, startS3NodeOrigin, startWorkerOrigin, until } from './helpers/index.js'
import type { MasterPublisher } from '../src/storage.js'

/**
 * The headers an edge or a player acts on. Transport headers (date, connection) differ by server
 * and mean nothing; so does whether a small JSON body is framed by content-length or chunked
 * (node:http and workerd choose differently): the bodies are compared byte for byte instead, and
 * a content-length, where given, must match its body.
 */
const COMPARED = ['content-type', 'cache-control', 'etag', 'content-range', 'accept-ranges', 'allow', 'access-control-allow-origin', 'access-control-expose-headers', 'access-control-allow-methods']

// One version published into every store (the same bytes, signed by the same key), then the same
// requests to each: an edge must not be able to tell the Node origin over a directory from the
// Worker origin over R2, nor from the Node origin over a bucket on an S3-compatible server.
t.test('the Node origin, the Worker origin and the Node origin over S3 answer byte for byte alike', async (t) => {
  const node = await startNodeOrigin(t)
  const worker = await startWorkerOrigin(t, { signingKey: await signingKeyText(node.dataDir) })
  const s3 = await startS3NodeOrigin(t, { signingKey: await signingKeyText(node.dataDir) })
  t.equal(worker.keys.publicKey, node.keys.publicKey)
  t.equal(s3.keys.publicKey, node.keys.publicKey)
  const all: MasterPublisher = { publish: async (staged) => Promise.all([node, worker, s3].map((o) => o.publisher.publish(staged))).then(() => undefined) }
  const { version } = await ingestInto({ ...node, publisher: all }, 'song')
  for (const o of [node, worker, s3]) await until(async () => (await fetch(`${o.url}/v1/tracks/song/manifest`)).status === 200, `${o.name} to list the track`)
  const manifest = ((await (await fetch(`${node.url}/v1/tracks/song/manifest`)).json()) as SignedManifest).manifest
  const last = manifest.qualities[1]!.chunkCount - 1
  const chunk = chunkPath({ trackId: 'song', version, bitrate: 160, index: last })
  const etag = `"${manifest.qualities[1]!.hashes[last]}"`
  const manifestEtag = (await fetch(`${node.url}/v1/tracks/song/manifest`)).headers.get('etag')!
  const headEtag = (await fetch(`${node.url}/v1/tracks/song/head`)).headers.get('etag')!

  const requests: Array<[string, RequestInit?]> = [
    ['/v1/tracks'],
    ['/v1/tracks/song/manifest'],
    ['/v1/tracks/song/manifest', { headers: { 'if-none-match': manifestEtag } }],
    [`/v1/tracks/song/versions/${version}/manifest`],
    ['/v1/tracks/song/head'],
    ['/v1/tracks/song/head?kbps=100'],
    ['/v1/tracks/song/head', { headers: { 'if-none-match': headEtag } }],
    ['/v1/tracks/song/head?kbps=0'],
    ['/v1/tracks/nope/head'],
    ['/v1/tracks/song/head', { method: 'POST' }],
    ['/v1/origin-key'],
    [chunk],
    [chunk, { method: 'HEAD' }],
    [chunk, { headers: { range: 'bytes=5-20' } }],
    [chunk, { headers: { range: 'bytes=-7' } }],
    [chunk, { headers: { range: 'bytes=999999-' } }],
    [chunk, { headers: { range: 'bytes=zz' } }],
    [chunk, { headers: { 'if-none-match': etag } }],
    [chunk, { headers: { 'if-none-match': etag, range: 'bytes=0-1' } }],
    [chunk, { method: 'POST' }],
    [`/v1/chunks/song/${version}/160/${last + 1}`],
    [`/v1/chunks/song/${version}/96/01`],
    ['/v1/chunks/song/zzzz0000/96/0'],
    ['/v1/tracks/nope/manifest'],
    ['/v1/tracks/Bad!Id/manifest'],
    ['/v1/tracks/song/versions/..%2f..%2fkeys/manifest'],
    ['/v1/tracks/song/manifest', { method: 'OPTIONS' }],
    ['/metrics'],
    ['/nowhere'],
  ]
  for (const [path, init] of requests) for (const other of [worker, s3]) await compare(path, init, other.url, other.name)

  async function compare(path: string, init: RequestInit | undefined, url: string, name: string) {
    const [a, b] = await Promise.all([fetch(`${node.url}${path}`, init), fetch(`${url}${path}`, init)])
    const pick = (res: Response) => Object.fromEntries(COMPARED.map((h) => [h, res.headers.get(h)]).filter(([, v]) => v !== null))
    const what = `${name}: ${init?.method ?? 'GET'} ${path}${init?.headers ? ` ${JSON.stringify(init.headers)}` : ''}`
    t.equal(b.status, a.status, `${what}: status`)
    t.same(pick(b), pick(a), `${what}: headers`)
    const [bodyA, bodyB] = [Buffer.from(await a.arrayBuffer()), Buffer.from(await b.arrayBuffer())]
    t.same(bodyB, bodyA, `${what}: body`)
    for (const [res, body] of [
      [a, bodyA],
      [b, bodyB],
    ] as const) {
      const length = res.headers.get('content-length')
      if (length !== null && init?.method !== 'HEAD') t.equal(Number(length), body.length, `${what}: content-length is the body's`)
    }
  }
})
