import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { CORS_HEADERS } from '../../protocol/index.js'
import { ingestFile } from '../src/ingest.js'
import { loadOriginKeys } from '../src/keys.js'
import { startOrigin } from '../src/server.js'
import { makeWav, tempDataDir } from '../../test-support/fixtures.js'

// server.ts answers plain chunk GETs itself and hands the rest to the Hono app: a query string is
// enough to take the second way. Both must answer alike, errors included (one error answer).
const SAME = ['content-type', 'cache-control', 'etag', 'content-range', 'accept-ranges', 'allow', ...Object.keys(CORS_HEADERS)]

t.test("the Node origin's fast path and its Hono app answer chunks and their errors alike", async (t) => {
  const dataDir = await tempDataDir(t)
  await writeFile(join(dataDir, 'song.wav'), makeWav(2))
  const keys = await loadOriginKeys(dataDir)
  const { version } = await ingestFile(join(dataDir, 'song.wav'), {}, { dataDir, keys, bitrates: [96] })
  const origin = await startOrigin({ dataDir, env: {} })
  t.teardown(() => origin.close())
  const cases: Array<[string, Record<string, string>?]> = [
    [`/v1/chunks/song/${version}/96/0`],
    [`/v1/chunks/song/${version}/96/0`, { range: 'bytes=3-9' }],
    [`/v1/chunks/song/${version}/96/0`, { range: 'bytes=99999999-' }],
    [`/v1/chunks/song/${version}/96/99999`],
    [`/v1/chunks/song/${version}/96/00`],
    ['/v1/chunks/song/zzzz0000/96/0'],
  ]
  for (const [path, headers] of cases) {
    const [fast, slow] = await Promise.all([fetch(`${origin.url}${path}`, { headers }), fetch(`${origin.url}${path}?via=hono`, { headers })])
    const pick = (res: Response) => Object.fromEntries(SAME.map((h) => [h, res.headers.get(h)]).filter(([, v]) => v !== null))
    const what = `${path} ${JSON.stringify(headers ?? {})}`
    t.equal(slow.status, fast.status, `${what}: status`)
    t.same(pick(slow), pick(fast), `${what}: headers`)
    t.same(Buffer.from(await slow.arrayBuffer()), Buffer.from(await fast.arrayBuffer()), `${what}: body`)
    t.equal(fast.headers.get('access-control-allow-origin'), '*')
    if (fast.status >= 400 && fast.status !== 416) t.equal(fast.headers.get('cache-control'), 'no-store', `${what}: an error is not cached`)
  }
})
