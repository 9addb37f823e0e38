import { request } from 'node:http'
import t from 'tap'
import { type S3Target, S3Error, createS3Bucket } from '../src/s3-bucket.js'
import { parseS3Target } from '../src/s3-store.js'
import { S3_ENV, startS3Server } from './helpers/s3-server.js'

// The S3 client (s3-bucket.ts) against a real S3-compatible server (s3rver): what the R2 API
// shape promises (null for a missing object, ranged reads, listings), S3's failures as typed
// S3Errors, path- and virtual-host-style addressing, and s3:// URLs with the environment.

function target(text: string, env: Record<string, string> = S3_ENV): S3Target {
  const parsed = parseS3Target(text, env)
  if (typeof parsed === 'string') throw new Error(parsed)
  return parsed
}

t.test('objects: put, ranged get, list by prefix, delete; a missing object is null', async (t) => {
  const s3 = await startS3Server(t, ['masters'])
  const bucket = s3.bucket('masters')
  await bucket.check()
  t.equal(await bucket.get('tracks/a/v1/96.enc'), null, 'a missing object')
  const bytes = Uint8Array.from({ length: 100 }, (_, i) => i)
  const put = await bucket.put('tracks/a/v1/96.enc', bytes)
  t.match(put, { etag: /^[0-9a-f]{32}$/ }, 'the etag, unquoted as the R2 API gives it')
  const whole = await bucket.get('tracks/a/v1/96.enc')
  t.equal(whole?.etag, put?.etag)
  t.equal(whole?.size, 100)
  t.ok(whole!.uploaded.getTime() > 0, 'the upload time, which the sweep goes by')
  const part = await bucket.get('tracks/a/v1/96.enc', { range: { offset: 90, length: 10 } })
  t.same(new Uint8Array(await part!.arrayBuffer()), bytes.subarray(90), 'a range is exactly those bytes')
  await bucket.put('tracks/a/v1/manifest.json', '{"a":"é"}', { httpMetadata: { contentType: 'application/json' } })
  t.equal(await (await bucket.get('tracks/a/v1/manifest.json'))!.text(), '{"a":"é"}', 'text in UTF-8')
  await bucket.put('tracks/b/v1/96.enc', bytes)
  await bucket.put('catalog.json', '{}')
  const listing = await bucket.list({ prefix: 'tracks/' })
  t.same(
    listing.objects.map((o) => [o.key, o.size]),
    [
      ['tracks/a/v1/96.enc', 100],
      ['tracks/a/v1/manifest.json', 10],
      ['tracks/b/v1/96.enc', 100],
    ],
  )
  t.equal(listing.truncated, false)
  await bucket.delete(['tracks/a/v1/96.enc', 'tracks/a/v1/manifest.json'])
  await bucket.delete('tracks/never-there')
  t.same(
    (await bucket.list({ prefix: 'tracks/' })).objects.map((o) => o.key),
    ['tracks/b/v1/96.enc'],
    'deleted, and deleting what is not there is no error',
  )
})

t.test('keys that need encoding travel and sign as S3 wants them', async (t) => {
  const bucket = (await startS3Server(t, ['masters'])).bucket('masters')
  for (const key of ['a b/c+d.txt', 'é/ü~_.-', 'x=1&y']) {
    await bucket.put(key, key)
    t.equal(await (await bucket.get(key))?.text(), key, key)
  }
})

t.test("S3's failures are typed S3Errors, never a crash or an empty answer", async (t) => {
  const s3 = await startS3Server(t, ['masters'])
  const missing = s3.bucket('no-such-bucket')
  await t.rejects(missing.check(), new S3Error('NoSuchBucket', 404, ''), 'check: no such bucket')
  await t.rejects(missing.get('catalog.json'), { name: 'S3Error', code: 'NoSuchBucket', status: 404 }, 'a missing bucket is not a missing object')
  await t.rejects(missing.put('x', 'y'), { code: 'NoSuchBucket' })
  const stranger = createS3Bucket(target(s3.url('masters'), { AWS_ACCESS_KEY_ID: 'NOT-A-KEY', AWS_SECRET_ACCESS_KEY: 'x' }))
  await t.rejects(stranger.get('x'), { code: 'InvalidAccessKeyId', status: 403 }, 'unknown credentials')
  await t.rejects(stranger.check(), { code: 'AccessDenied', status: 403 }, 'HEAD has no body: the status says it')

  const closed = await startS3Server(t, ['masters'])
  await closed.close()
  const gone = createS3Bucket(target(closed.url('masters')), { attempts: 2 })
  const err = await gone.get('x').catch((e: unknown) => e)
  t.match(err, { name: 'S3Error', code: 'NetworkError', status: 0 }, 'no server: a NetworkError')
  t.match((err as Error).message, closed.endpoint, 'naming where it tried')
})

t.test('a request that fails on the network is tried again', async (t) => {
  const s3 = await startS3Server(t, ['masters'])
  let failures = 1
  const flaky: typeof fetch = (input, init) => (failures-- > 0 ? Promise.reject(new TypeError('fetch failed')) : fetch(input, init))
  const bucket = createS3Bucket(target(s3.url('masters')), { fetch: flaky })
  t.ok(await bucket.put('k', 'v'), 'the second try went through')
  t.equal(failures, -1)
})

t.test('virtual-host style: the bucket in the host name', async (t) => {
  const s3 = await startS3Server(t, ['masters'], { serviceEndpoint: 'chorus.test' })
  // A resolver for the test's made-up domain: every host goes to the local server, its Host header kept.
  const hosts: string[] = []
  const local: typeof fetch = (input, init) =>
    new Promise((resolve, reject) => {
      const url = new URL(String(input))
      hosts.push(url.host)
      const headers = { ...(init?.headers as Record<string, string>), host: url.host }
      const req = request({ host: '127.0.0.1', port: s3.port, method: init?.method ?? 'GET', path: `${url.pathname}${url.search}`, headers }, (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () =>
          resolve(
            new Response(res.statusCode === 204 || res.statusCode === 304 || init?.method === 'HEAD' ? null : Buffer.concat(chunks), {
              status: res.statusCode!,
              headers: res.headers as Record<string, string>,
            }),
          ),
        )
      })
      req.on('error', reject)
      req.end(init?.body as Uint8Array | undefined)
    })
  const bucket = createS3Bucket(target(`s3://masters?endpoint=http://s3.chorus.test:${s3.port}&style=virtual`), { fetch: local })
  await bucket.check()
  await bucket.put('tracks/a/1/96.enc', 'chunky')
  t.equal(await (await bucket.get('tracks/a/1/96.enc', { range: { offset: 1, length: 3 } }))?.text(), 'hun')
  t.same(
    (await bucket.list({ prefix: 'tracks/' })).objects.map((o) => o.key),
    ['tracks/a/1/96.enc'],
  )
  t.ok(
    hosts.every((h) => h === `masters.s3.chorus.test:${s3.port}`),
    'every request went to the bucket host',
  )
  // And the same object, path-style, straight to the server.
  t.equal(await (await s3.bucket('masters').get('tracks/a/1/96.enc'))?.text(), 'chunky', 'the same bucket, path-style')
})

t.test('s3:// URLs and the environment', async (t) => {
  const env = { AWS_ACCESS_KEY_ID: 'id', AWS_SECRET_ACCESS_KEY: 'secret' }
  t.match(parseS3Target('s3://masters', env), { bucket: 'masters', region: 'us-east-1', style: 'virtual', endpoint: new URL('https://s3.us-east-1.amazonaws.com') }, 'AWS by default')
  t.match(parseS3Target('s3://masters', { ...env, AWS_REGION: 'eu-west-3' }), { region: 'eu-west-3', endpoint: new URL('https://s3.eu-west-3.amazonaws.com') })
  t.match(
    parseS3Target('s3://masters?endpoint=https://acct.r2.cloudflarestorage.com', env),
    { region: 'auto', style: 'path', endpoint: new URL('https://acct.r2.cloudflarestorage.com') },
    'an endpoint (R2): region auto, path style',
  )
  t.match(parseS3Target('s3://masters', { ...env, AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:9000' }), { style: 'path', endpoint: new URL('http://127.0.0.1:9000') }, 'the endpoint from the environment')
  t.match(parseS3Target('s3://masters?region=auto&style=virtual&endpoint=http://localhost:1', env), { region: 'auto', style: 'virtual' })
  t.match(parseS3Target('s3://masters', { ...env, AWS_SESSION_TOKEN: 'tok' }), { credentials: { accessKeyId: 'id', secretAccessKey: 'secret', sessionToken: 'tok' } })
  for (const [text, why] of [
    ['r2://masters', /not an s3/],
    ['s3://Masters', /bucket name/],
    ['s3://ab', /bucket name/],
    ['s3://masters/prefix', /no path/],
    ['s3://user:pw@masters', /no port or user/],
    ['s3://masters?endpoint=ftp://x', /http\(s\)/],
    ['s3://masters?endpoint=nope', /not a URL/],
    ['s3://masters?style=sideways', /path or virtual/],
    ['s3://masters?secret=x', /unknown parameter 'secret'/],
    ['s3://masters?region=Mars!', /not a region/],
  ] as const)
    t.match(parseS3Target(text, env), why, text)
  t.match(parseS3Target('s3://masters', {}), /AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY/, 'no credentials')
})
