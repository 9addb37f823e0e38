import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { SCOPES, type Scope, isTrackId } from '../../protocol/index.js'

/**
 * API keys an app presents to get a session token. From `config.json` in the data directory
 * (`{"apiKeys": {"<key>": {"name": "...", "scope": ["play", "announce"], "tracks": ["id", ...]}}}`,
 * `tracks` optional) and from the
 * environment (`CHORUS_API_KEYS=key1,key2:name`), which grants play and announce.
 */
export interface ApiKeyGrant {
  name: string
  scope: Scope[]
  /** The tracks its tokens cover; absent: every track. */
  tracks?: string[]
}

export const DEMO_API_KEY = 'chorus-demo-key'

export function parseApiKeysEnv(value: string | undefined): Map<string, ApiKeyGrant> {
  const out = new Map<string, ApiKeyGrant>()
  for (const item of (value ?? '').split(',').map((s) => s.trim()).filter(Boolean)) {
    const [key, name] = item.split(':') as [string, string | undefined]
    out.set(key, { name: name ?? 'env', scope: ['play', 'announce'] })
  }
  return out
}

export function createApiKeys(dataDir: string, env: NodeJS.ProcessEnv = process.env, now: () => number = Date.now) {
  const fromEnv = parseApiKeysEnv(env.CHORUS_API_KEYS)
  let cache: { at: number; keys: Map<string, ApiKeyGrant> } | undefined

  async function load(): Promise<Map<string, ApiKeyGrant>> {
    if (cache && now() - cache.at < 1000) return cache.keys
    const keys = new Map(fromEnv)
    try {
      const config = JSON.parse(await readFile(join(dataDir, 'config.json'), 'utf8')) as { apiKeys?: Record<string, Partial<ApiKeyGrant>> }
      for (const [key, grant] of Object.entries(config.apiKeys ?? {})) {
        const scope = (grant.scope ?? ['play', 'announce']).filter((s): s is Scope => (SCOPES as readonly string[]).includes(s))
        const tracks = Array.isArray(grant.tracks) ? grant.tracks.filter(isTrackId) : undefined
        keys.set(key, { name: String(grant.name ?? 'key'), scope, ...(tracks && { tracks }) })
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`cannot read ${join(dataDir, 'config.json')}: ${(err as Error).message}`)
    }
    cache = { at: now(), keys }
    return keys
  }

  return {
    async lookup(key: string): Promise<ApiKeyGrant | undefined> {
      return (await load()).get(key)
    },
  }
}
