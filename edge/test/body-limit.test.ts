import t from 'tap'
import { streamUpload } from '../../test-support/stream-upload.js'
import { makeCatalog, startEdge, startProxy, startTestOrigin } from '../../test-support/edge.js'

// Issue 15: the edge trusted Content-Length; a chunked body of any size was read whole before
// its size was checked, and then forwarded.
const { dataDir } = await makeCatalog(t, [{ trackId: 'song', seconds: 1 }])
const origin = await startTestOrigin(t, dataDir)
const proxy = await startProxy(t, origin.url)
const edge = await startEdge(t, { ORIGIN_URL: proxy.url, ORIGIN_PUBLIC_KEY: origin.keys.publicKey, PURGE_TOKEN: 'purge-secret-for-the-body-test' })

t.test('a body without Content-Length is cut off at the limit, while it arrives, and never forwarded', async (t) => {
  // POST /v1/session is no longer read at all (404 not_at_edge before the body): it must stop early too.
  for (const [path, headers, status, code] of [
    ['/v1/session', {}, 404, 'not_at_edge'],
    ['/_chorus/purge', { authorization: 'Bearer purge-secret-for-the-body-test' }, 413, 'payload_too_large'],
  ] as const) {
    const before = proxy.count(path)
    const answer = await streamUpload(`${edge.url}${path}`, 64 * 1024 * 1024, headers)
    // The answer, or a reset when workerd closes on the unread rest before the answer reaches us.
    t.ok(answer.status === status || answer.status === 0, `${path}: ${status} or reset (${answer.status})`)
    if (answer.status === status) t.match(JSON.parse(answer.body), { error: { code } })
    t.ok(answer.sentBeforeAnswer < 16 * 1024 * 1024, `${path}: answered after ${(answer.sentBeforeAnswer / 1e6).toFixed(1)} MB of 64 MB`)
    t.equal(proxy.count(path), before, `${path}: nothing reached the origin`)
  }
  const health = await edge.get('/healthz')
  t.equal(health.status, 200, 'the edge is still up')
  await health.arrayBuffer()
})
