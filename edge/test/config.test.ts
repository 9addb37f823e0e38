import { generateKeyPairSync } from 'node:crypto'
import { dirname } from 'node:path'
import { Miniflare } from 'miniflare'
import t from 'tap'
import { toBase64Url } from '../../protocol/index.js'
import { CONFIG_VARS, DEFAULT_POLICY, parseEdgeConfig } from '../src/config.js'
import { COMPATIBILITY_DATE, bundleWorker, runEdgeCli } from '../../test-support/edge.js'

function publicKey(): string {
  const spki = generateKeyPairSync('ed25519').publicKey.export({ format: 'der', type: 'spki' })
  return toBase64Url(new Uint8Array(spki.subarray(spki.length - 32)))
}
const KEY = publicKey()
const BASE = { ORIGIN_URL: 'http://127.0.0.1:8788', ORIGIN_PUBLIC_KEY: KEY }

// The tests share nothing: workerd's and the command line's (each seconds) run side by side.
t.jobs = 5

t.test('defaults: only the origin and its key are required', async (t) => {
  const result = parseEdgeConfig(BASE)
  t.ok(result.ok)
  if (!result.ok) return
  t.same(result.config, {
    originUrl: 'http://127.0.0.1:8788',
    originPublicKey: KEY,
    memoryCacheBytes: 32 * 1024 * 1024,
    memoryPolicy: DEFAULT_POLICY,
    admitAfter: 1,
    manifestTtlSec: 10,
    negativeTtlSec: 5,
    staleWindowSec: 3600,
    revalidateWindowSec: 604800,
    readAhead: 2,
    originTimeoutMs: 5000,
    requireToken: false,
    operatorTokens: [],
    cacheBase: 'https://chorus-edge.invalid',
    upstream: 'origin',
  })
  t.equal(DEFAULT_POLICY, 'chunk-aware', 'the policy with the lowest miss ratio on the chunk workload')
  const emptyIsUnset = parseEdgeConfig({ ...BASE, MEMORY_POLICY: '', READ_AHEAD: '  ' })
  t.ok(emptyIsUnset.ok && emptyIsUnset.config.memoryPolicy === 'chunk-aware' && emptyIsUnset.config.readAhead === 2)
  const typed = parseEdgeConfig({ ...BASE, MEMORY_CACHE_MB: 0.5, REQUIRE_TOKEN: false, ORIGIN_URL: 'https://origin.example/base/' })
  t.ok(typed.ok, 'numbers and booleans from JSON vars are read as their text')
  if (typed.ok) {
    t.equal(typed.config.memoryCacheBytes, 512 * 1024)
    t.equal(typed.config.originUrl, 'https://origin.example/base', 'a trailing slash is dropped')
  }
  t.same(CONFIG_VARS.map((v) => v.name).sort(), [
    'ADMIT_AFTER',
    'CACHE_HOST',
    'MANIFEST_TTL_SEC',
    'MEMORY_CACHE_MB',
    'MEMORY_POLICY',
    'NEGATIVE_TTL_SEC',
    'OPERATOR_TOKEN',
    'ORIGIN_PUBLIC_KEY',
    'ORIGIN_TIMEOUT_MS',
    'ORIGIN_URL',
    'PURGE_TOKEN',
    'READ_AHEAD',
    'REQUIRE_TOKEN',
    'STALE_WHILE_REVALIDATE_SEC',
    'STALE_WINDOW_SEC',
    'UPSTREAM_EDGE',
  ])
})

t.test('operator tokens: OPERATOR_TOKEN, and PURGE_TOKEN its older name; CACHE_HOST; UPSTREAM_EDGE', async (t) => {
  const both = parseEdgeConfig({ ...BASE, OPERATOR_TOKEN: 'operator-token-0123456789', PURGE_TOKEN: 'purge-token-0123456789' })
  t.same(both.ok && both.config.operatorTokens, ['operator-token-0123456789', 'purge-token-0123456789'], 'both accepted when both are set')
  const alias = parseEdgeConfig({ ...BASE, PURGE_TOKEN: 'purge-token-0123456789' })
  t.same(alias.ok && alias.config.operatorTokens, ['purge-token-0123456789'], 'PURGE_TOKEN alone is the operator token')
  const host = parseEdgeConfig({ ...BASE, CACHE_HOST: 'Edge.Example.com' })
  t.equal(host.ok && host.config.cacheBase, 'https://edge.example.com')
  const shielded = parseEdgeConfig({ ORIGIN_PUBLIC_KEY: KEY, UPSTREAM_EDGE: 'https://shield.example/' })
  t.ok(shielded.ok, 'a lower-tier edge needs no ORIGIN_URL')
  if (shielded.ok) {
    t.equal(shielded.config.upstream, 'edge')
    t.equal(shielded.config.originUrl, 'https://shield.example', 'misses go to the shield')
  }
  const over = parseEdgeConfig({ ...BASE, UPSTREAM_EDGE: 'http://127.0.0.1:9' })
  t.equal(over.ok && over.config.originUrl, 'http://127.0.0.1:9', 'UPSTREAM_EDGE wins over ORIGIN_URL')
})

t.test('every bad value is named, all at once', async (t) => {
  const cases: Array<[Record<string, unknown>, string, RegExp]> = [
    [{ ORIGIN_URL: undefined }, 'ORIGIN_URL', /is required/],
    [{ ORIGIN_URL: 'ftp://x' }, 'ORIGIN_URL', /http or https/],
    [{ ORIGIN_URL: 'http://x/?a=1' }, 'ORIGIN_URL', /no query/],
    [{ ORIGIN_URL: 'not a url' }, 'ORIGIN_URL', /http or https/],
    [{ ORIGIN_PUBLIC_KEY: undefined }, 'ORIGIN_PUBLIC_KEY', /is required/],
    [{ ORIGIN_PUBLIC_KEY: 'not base64!' }, 'ORIGIN_PUBLIC_KEY', /base64url/],
    [{ ORIGIN_PUBLIC_KEY: 'AAAA' }, 'ORIGIN_PUBLIC_KEY', /32 raw Ed25519 bytes/],
    [{ MEMORY_CACHE_MB: 'lots' }, 'MEMORY_CACHE_MB', /from 0 to 1024, not 'lots'/],
    [{ MEMORY_CACHE_MB: '-1' }, 'MEMORY_CACHE_MB', /from 0 to 1024/],
    [{ MEMORY_CACHE_MB: '2048' }, 'MEMORY_CACHE_MB', /from 0 to 1024/],
    [{ MEMORY_POLICY: 'fifo' }, 'MEMORY_POLICY', /one of lru, sieve, s3fifo, w-tinylfu, chunk-aware, not 'fifo'/],
    [{ ADMIT_AFTER: '0' }, 'ADMIT_AFTER', /whole number from 1 to 255/],
    [{ ADMIT_AFTER: '1.5' }, 'ADMIT_AFTER', /whole number/],
    [{ MANIFEST_TTL_SEC: '-5' }, 'MANIFEST_TTL_SEC', /from 0 to 86400/],
    [{ NEGATIVE_TTL_SEC: '1e3' }, 'NEGATIVE_TTL_SEC', /whole number/],
    [{ STALE_WINDOW_SEC: 'week' }, 'STALE_WINDOW_SEC', /whole number/],
    [{ READ_AHEAD: '33' }, 'READ_AHEAD', /from 0 to 32/],
    [{ ORIGIN_TIMEOUT_MS: '10' }, 'ORIGIN_TIMEOUT_MS', /from 50 to 120000/],
    [{ REQUIRE_TOKEN: 'yes' }, 'REQUIRE_TOKEN', /true or false/],
    [{ PURGE_TOKEN: 'short' }, 'PURGE_TOKEN', /at least 16 characters/],
    [{ OPERATOR_TOKEN: 'short' }, 'OPERATOR_TOKEN', /at least 16 characters/],
    [{ CACHE_HOST: 'https://edge.example' }, 'CACHE_HOST', /bare hostname/],
    [{ CACHE_HOST: 'edge.example:8787' }, 'CACHE_HOST', /bare hostname/],
    [{ UPSTREAM_EDGE: 'ftp://shield' }, 'UPSTREAM_EDGE', /http or https/],
    [{ UPSTREAM_EDGE: 'http://shield/?x=1' }, 'UPSTREAM_EDGE', /no query/],
    [{ MEMORY_POLICY: { name: 'lru' } }, 'MEMORY_POLICY', /not a value of type object/],
  ]
  for (const [change, name, message] of cases) {
    const result = parseEdgeConfig({ ...BASE, ...change })
    t.notOk(result.ok, `${JSON.stringify(change)} is refused`)
    if (result.ok) continue
    t.same(
      result.problems.map((p) => p.name),
      [name],
      `and names ${name}`,
    )
    t.match(result.problems[0]!.message, new RegExp(`^${name} `))
    t.match(result.problems[0]!.message, message)
  }
  const many = parseEdgeConfig({ MEMORY_POLICY: 'fifo', READ_AHEAD: '-1', ORIGIN_URL: 'x' })
  t.notOk(many.ok)
  if (!many.ok) t.same(many.problems.map((p) => p.name).sort(), ['MEMORY_POLICY', 'ORIGIN_PUBLIC_KEY', 'ORIGIN_URL', 'READ_AHEAD'])
  t.ok(parseEdgeConfig({ ORIGIN_URL: 'http://x' }, { publicKeyOptional: true }).ok, 'the CLI may fetch the key itself')
})

t.test('in workerd, a bad config answers every request with a 500 config_invalid naming it', async (t) => {
  const script = await bundleWorker()
  const worker = (name: string, bindings: Record<string, string>) => ({ name, modules: true, scriptPath: script, modulesRoot: dirname(script), compatibilityDate: COMPATIBILITY_DATE, bindings })
  const mf = new Miniflare({
    workers: [worker('bad', { ...BASE, MEMORY_POLICY: 'fifo', READ_AHEAD: '100' }), worker('no-origin', { ORIGIN_PUBLIC_KEY: KEY }), worker('good', { ...BASE })],
  })
  t.teardown(() => mf.dispose())
  await mf.ready
  const ask = async (name: string, path: string) => {
    const res = await (await mf.getWorker(name)).fetch(`http://edge.test${path}`)
    return { status: res.status, body: (await res.json()) as { error?: { code: string; message: string }; problems?: Array<{ name: string }>; ok?: boolean } }
  }
  for (const path of ['/healthz', '/v1/chunks/song/abcd/96/0', '/v1/tracks/song/manifest', '/_chorus/stats', '/nothing']) {
    const { status, body } = await ask('bad', path)
    t.equal(status, 500, `${path} -> 500`)
    t.equal(body.error?.code, 'config_invalid')
    t.match(body.error?.message, /MEMORY_POLICY must be one of lru, sieve, s3fifo, w-tinylfu, chunk-aware, not 'fifo'/)
    t.match(body.error?.message, /READ_AHEAD must be a whole number from 0 to 32, not '100'/)
    t.same(
      body.problems?.map((p) => p.name),
      ['MEMORY_POLICY', 'READ_AHEAD'],
    )
  }
  const missing = await ask('no-origin', '/healthz')
  t.equal(missing.status, 500)
  t.match(missing.body.error?.message, /ORIGIN_URL is required/)
  const good = await ask('good', '/healthz')
  t.equal(good.status, 200)
  t.same(good.body, { ok: true }, 'the public health answer says up, and nothing about the origin')
})

t.test('`chorus edge --check` validates wrangler.toml with the flags on top', async (t) => {
  // Each run loads wrangler (seconds): run them side by side.
  const [bad, good, fileOnly, typo] = await Promise.all([
    runEdgeCli(['--check', '--var', 'MEMORY_POLICY=fifo', '--var', 'ORIGIN_TIMEOUT_MS=1']),
    runEdgeCli(['--check', '--json', '--origin', 'http://127.0.0.1:9', `--public-key=${KEY}`, '--var', 'MEMORY_POLICY=sieve']),
    runEdgeCli(['--check']),
    runEdgeCli(['--check', '--var', 'MEMORY_POLICI=lru']),
  ])
  t.equal(bad.code, 1)
  t.match(bad.stderr, /MEMORY_POLICY must be one of lru, sieve, s3fifo, w-tinylfu, chunk-aware, not 'fifo'/)
  t.match(bad.stderr, /ORIGIN_TIMEOUT_MS must be a whole number from 50 to 120000, not '1'/)

  t.equal(good.code, 0, good.stderr)
  // One JSON line on stdout; if anything else came, the failure shows the whole run.
  t.match(good.stdout, /^\{.*\}\n$/, `--check --json prints one JSON line (got ${JSON.stringify(good)})`)
  const result = JSON.parse(good.stdout.trim() || '{}') as { ok: boolean; config: { policy: string; origin: string } }
  t.equal(result.ok, true)
  t.equal(result.config?.policy, 'sieve')
  t.equal(result.config?.origin, 'http://127.0.0.1:9')

  t.equal(fileOnly.code, 0, 'the wrangler.toml in the repository is valid as it stands')
  t.match(fileOnly.stderr, /ORIGIN_PUBLIC_KEY unset/)

  t.equal(typo.code, 2, 'an unknown variable is a usage error, not a silent no-op')
  t.match(typo.stderr, /MEMORY_POLICI/)
})
