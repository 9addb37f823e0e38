import { join, resolve } from 'node:path'
import { Miniflare } from 'miniflare'
import type { R2BucketLike } from './r2-store.js'

/**
 * A local R2 bucket from Node, through Miniflare: the same storage `wrangler dev` uses. Wrangler
 * keeps local state under `<persist-to>/v3` (default `.wrangler/state`), and an R2 binding's
 * objects under its `bucket_name`; opening the same directory and bucket name here reads and
 * writes the very bucket a `wrangler dev --persist-to <dir>` of the origin Worker serves.
 * An ingest while that wrangler dev serves works (origin-worker-wrangler.test.ts); run one ingest at a time.
 *
 * Miniflare runs workerd as a child process: close() ends it. A SIGKILL of this process leaves
 * workerd running (it does not watch its parent), so a supervisor kills the process group.
 */
export interface LocalR2 {
  bucket: R2BucketLike
  close(): Promise<void>
}

/** wrangler's default --persist-to, relative to where it runs. */
const DEFAULT_PERSIST_DIR = '.wrangler/state'

export async function openLocalR2(options: { persistDir?: string; bucketName: string }): Promise<LocalR2> {
  const persistDir = resolve(options.persistDir ?? DEFAULT_PERSIST_DIR)
  const mf = new Miniflare({
    modules: true,
    // Miniflare needs a Worker to host the bucket; this one answers nothing.
    script: 'export default { fetch() { return new Response(null, { status: 404 }) } }',
    defaultPersistRoot: join(persistDir, 'v3'),
    r2Buckets: { MASTERS: options.bucketName },
  })
  try {
    const bucket = (await mf.getR2Bucket('MASTERS')) as unknown as R2BucketLike
    return { bucket, close: () => mf.dispose() }
  } catch (err) {
    await mf.dispose()
    throw err
  }
}
