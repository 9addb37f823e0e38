import { SCOPES, type Scope, isTrackId } from '../../protocol/index.js'

/**
 * What an API key grants, and the environment form of API keys: the part of api-keys.ts that
 * needs no file system, so the origin Worker (which has env vars and no directory) shares it.
 */
export interface ApiKeyGrant {
  name: string
  scope: Scope[]
  /** The tracks its tokens cover; absent: every track. */
  tracks?: string[]
  /** May name the subject of a session: for an app's backend that signs its users in, never a key shipped in a client. */
  subjects?: boolean
}

/** How the HTTP API finds what an API key grants. */
export interface ApiKeyLookup {
  lookup(key: string): Promise<ApiKeyGrant | undefined>
}

/** `CHORUS_API_KEYS=key1,key2:name`: each grants play and announce. */
export function parseApiKeysEnv(value: string | undefined): Map<string, ApiKeyGrant> {
  const out = new Map<string, ApiKeyGrant>()
  for (const item of (value ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const [key, name] = item.split(':') as [string, string | undefined]
    out.set(key, { name: name ?? 'env', scope: ['play', 'announce'] })
  }
  return out
}

/**
 * The `{"apiKeys": {"<key>": {"name", "scope", "tracks", "subjects"}}}` form (DATA/config.json;
 * the origin Worker's CHORUS_API_KEYS_CONFIG secret). Unknown scopes and malformed track ids are
 * dropped: a grant never widens by a typo.
 */
export function parseApiKeyConfig(config: unknown): Map<string, ApiKeyGrant> {
  const out = new Map<string, ApiKeyGrant>()
  const apiKeys = (config as { apiKeys?: unknown } | null)?.apiKeys
  if (typeof apiKeys !== 'object' || apiKeys === null) return out
  for (const [key, value] of Object.entries(apiKeys as Record<string, Partial<ApiKeyGrant>>)) {
    const grant = typeof value === 'object' && value !== null ? value : {}
    const asked: unknown[] = grant.scope === undefined ? ['play', 'announce'] : Array.isArray(grant.scope) ? grant.scope : []
    const scope = asked.filter((s): s is Scope => (SCOPES as readonly string[]).includes(s as string))
    const tracks = Array.isArray(grant.tracks) ? grant.tracks.filter(isTrackId) : undefined
    out.set(key, { name: String(grant.name ?? 'key'), scope, ...(tracks && { tracks }), ...(grant.subjects === true && { subjects: true }) })
  }
  return out
}
