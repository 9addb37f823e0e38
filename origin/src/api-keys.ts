import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { type ApiKeyGrant, type ApiKeyLookup, parseApiKeyConfig, parseApiKeysEnv } from './api-key-grants.js'

export type { ApiKeyLookup }

export const DEMO_API_KEY = 'chorus-demo-key'

/**
 * API keys an app presents to get a session token. From `config.json` in the data directory
 * (`{"apiKeys": {"<key>": {"name": "...", "scope": ["play", "announce"], "tracks": ["id", ...]}}}`,
 * `tracks` and `"subjects": true` optional) and from the
 * environment (`CHORUS_API_KEYS=key1,key2:name`), which grants play and announce.
 */
export function createApiKeys(dataDir: string, env: NodeJS.ProcessEnv = process.env, now: () => number = Date.now): ApiKeyLookup {
  const fromEnv = parseApiKeysEnv(env.CHORUS_API_KEYS)
  let cache: { at: number; keys: Map<string, ApiKeyGrant> } | undefined

  async function load(): Promise<Map<string, ApiKeyGrant>> {
    if (cache && now() - cache.at < 1000) return cache.keys
    const keys = new Map(fromEnv)
    try {
      for (const [key, grant] of parseApiKeyConfig(JSON.parse(await readFile(join(dataDir, 'config.json'), 'utf8')))) keys.set(key, grant)
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
