import { ProtocolError } from '../../protocol/index.js'
import { parseApiKeyConfig, parseApiKeysEnv } from '../src/api-key-grants.js'
import { createOriginApp, originErrorAnswer, toResponse } from '../src/app.js'
import { createMetrics } from '../src/metrics.js'
import { type R2BucketLike, createR2Store } from '../src/r2-store.js'
import { originKeysFromText } from '../src/signing-key.js'
import { importWrappingKey } from '../src/key-wrap.js'
import { type DurableObjectNamespaceLike, createVaultKeys } from './key-vault.js'

export { KeyVault } from './key-vault.js'

/**
 * The origin as a Cloudflare Worker: the same Hono app as `chorus origin` (src/app.ts), over the
 * masters in an R2 bucket (src/r2-store.ts) instead of a directory, so an edge cannot tell the
 * two apart. Built once per isolate from env at the first request; a missing or bad setting
 * answers every request with a 500 `config_invalid` naming it, rather than serving with a guess.
 *
 * Bindings (origin/worker/wrangler.toml): MASTERS (R2), KEYS (the KeyVault Durable Object: the
 * key service; unbound, the Worker serves no keys). Secrets: CHORUS_SIGNING_KEY (Ed25519
 * PKCS#8, base64url: the key that signed the manifests; it also signs session tokens),
 * KEY_WRAPPING_KEY (32 bytes, base64url: wraps the keys in KEYS), CHORUS_API_KEYS
 * (key1,key2:name) and CHORUS_API_KEYS_CONFIG (config.json's {"apiKeys": ...}, for grants with
 * scopes, tracks or subjects), CHORUS_OPERATOR_TOKEN (guards /metrics and key uploads). Vars:
 * MANIFEST_MAX_AGE_SEC, TOKEN_TTL_SEC, CATALOG_REFRESH_MS.
 */
interface Env {
  MASTERS?: R2BucketLike
  KEYS?: DurableObjectNamespaceLike
  KEY_WRAPPING_KEY?: string
  CHORUS_SIGNING_KEY?: string
  CHORUS_API_KEYS?: string
  CHORUS_API_KEYS_CONFIG?: string
  CHORUS_OPERATOR_TOKEN?: string
  MANIFEST_MAX_AGE_SEC?: string
  TOKEN_TTL_SEC?: string
  CATALOG_REFRESH_MS?: string
}

type Fetch = (request: Request, env: Env, ctx: unknown) => Response | Promise<Response>
type Built = { ok: true; fetch: Fetch } | { ok: false; message: string }

let memo: { fingerprint: string; built: Promise<Built> } | undefined

function intVar(env: Env, name: 'MANIFEST_MAX_AGE_SEC' | 'TOKEN_TTL_SEC' | 'CATALOG_REFRESH_MS', fallback: number, max: number): number {
  const text = env[name]
  if (text === undefined || text === '') return fallback
  const n = Number(text)
  if (!Number.isInteger(n) || n < 0 || n > max) throw new Error(`${name} must be a whole number from 0 to ${max}, not '${text}'`)
  return n
}

async function build(env: Env): Promise<Built> {
  try {
    if (!env.MASTERS) throw new Error('MASTERS (the R2 bucket of masters) is not bound')
    if (!env.CHORUS_SIGNING_KEY) throw new Error('CHORUS_SIGNING_KEY is not set (wrangler secret put CHORUS_SIGNING_KEY; chorus ingest made it: DATA/keys/signing-key.json, privateKey)')
    const keys = await originKeysFromText(env.CHORUS_SIGNING_KEY)
    let vaultKeys: ReturnType<typeof createVaultKeys> | undefined
    if (env.KEYS) {
      if (!env.KEY_WRAPPING_KEY) throw new Error('KEY_WRAPPING_KEY is not set (wrangler secret put KEY_WRAPPING_KEY: 32 random bytes, base64url); the key vault (KEYS) needs it')
      vaultKeys = createVaultKeys(env.KEYS, await importWrappingKey(env.KEY_WRAPPING_KEY))
    }
    const apiKeys = parseApiKeysEnv(env.CHORUS_API_KEYS)
    if (env.CHORUS_API_KEYS_CONFIG) {
      let config: unknown
      try {
        config = JSON.parse(env.CHORUS_API_KEYS_CONFIG)
      } catch {
        throw new Error('CHORUS_API_KEYS_CONFIG must be JSON: {"apiKeys": {"<key>": {"name": "...", "scope": [...], "tracks": [...], "subjects": true}}}')
      }
      for (const [key, grant] of parseApiKeyConfig(config)) apiKeys.set(key, grant)
    }
    const app = createOriginApp({
      store: createR2Store(env.MASTERS, { refreshMs: intVar(env, 'CATALOG_REFRESH_MS', 1000, 3_600_000) }),
      ...(vaultKeys && { trackKeys: vaultKeys, trackKeyWriter: vaultKeys }),
      keys,
      apiKeys: { lookup: async (key) => apiKeys.get(key) },
      // Per isolate: a Worker's metrics describe the isolate that answers /metrics.
      metrics: createMetrics('chorus_origin'),
      manifestMaxAgeSec: intVar(env, 'MANIFEST_MAX_AGE_SEC', 10, 86400),
      tokenTtlSec: intVar(env, 'TOKEN_TTL_SEC', 3600, 86400 * 7),
      ...(env.CHORUS_OPERATOR_TOKEN && { operatorToken: env.CHORUS_OPERATOR_TOKEN }),
    })
    return { ok: true, fetch: (request, e, ctx) => app.fetch(request, e, ctx as never) }
  } catch (err) {
    return { ok: false, message: (err as Error).message }
  }
}

function originFor(env: Env): Promise<Built> {
  // workerd may hand each request a new env object with the same values: rebuild only on a real change.
  const fingerprint = JSON.stringify(Object.entries(env).map(([k, v]) => [k, typeof v === 'string' ? v : typeof v]))
  if (memo?.fingerprint !== fingerprint) memo = { fingerprint, built: build(env) }
  return memo.built
}

export default {
  async fetch(request: Request, env: Env, ctx: unknown): Promise<Response> {
    const built = await originFor(env)
    if (!built.ok) return toResponse(originErrorAnswer(new ProtocolError('config_invalid', built.message), new URL(request.url).pathname))
    return built.fetch(request, env, ctx)
  },
}
