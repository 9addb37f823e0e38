import { parseErrorBody } from '../../protocol/index.js'
import type { TrackKeyWriter } from './storage.js'

/**
 * Hands track keys to a key service over HTTP (`PUT /v1/admin/track-keys/:id/:version`, operator
 * token): how an ingest that publishes masters into R2 gets each version's key to the origin
 * Worker's key vault without the key ever touching the bucket. Pure fetch.
 */
export interface KeyServiceWriterOptions {
  /** The key service's base URL (the origin Worker). */
  url: string
  operatorToken: string
  fetch?: typeof fetch
}

export function createKeyServiceWriter(options: KeyServiceWriterOptions): TrackKeyWriter {
  const base = options.url.replace(/\/+$/, '')
  const doFetch = options.fetch ?? fetch
  return {
    async putTrackKey(trackId, version, keyB64) {
      const res = await doFetch(`${base}/v1/admin/track-keys/${encodeURIComponent(trackId)}/${encodeURIComponent(version)}`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${options.operatorToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ key: keyB64 }),
      })
      if (res.ok) {
        await res.arrayBuffer()
        return
      }
      const error = parseErrorBody(await res.json().catch(() => undefined))
      throw new Error(`the key service at ${base} refused the key of ${trackId}/${version}: ${res.status} ${error ? `${error.code}: ${error.message}` : ''}`.trim())
    },
  }
}
