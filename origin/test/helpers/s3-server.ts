// A real S3-compatible server for the tests: s3rver (pure JS, on the filesystem), on 127.0.0.1
// and a free port. It accepts the S3RVER/S3RVER credentials and, unlike R2 and AWS, does not
// check V4 signatures (sigv4.test.ts holds the signer to the spec's examples) nor honour
// conditional writes (If-Match on a PUT); everything else the store uses it answers as S3 does.

import type { EventEmitter } from 'node:events'
import S3rver from 's3rver'
import type { Test } from 'tap'
import { type S3Bucket, createS3Bucket } from '../../src/s3-bucket.js'
import { parseS3Target } from '../../src/s3-store.js'
import { closeOnce, tempDataDir } from '../../../test-support/fixtures.js'

export const S3_ENV = { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' }

export interface S3Server {
  endpoint: string
  port: number
  /** `s3://BUCKET?endpoint=...`, as `chorus ingest --to` and `chorus origin --masters` take it. */
  url(bucket: string): string
  /** A client for one bucket, as the CLI builds it from url() and S3_ENV. */
  bucket(name: string): S3Bucket
  /** Calls `listener` as each object is stored (a PUT answered); returns the way to stop. */
  onObjectStored(listener: (key: string) => void): () => void
  close(): Promise<void>
}

/**
 * s3rver on 127.0.0.1 with `buckets` made. `serviceEndpoint`: the domain under which it takes
 * virtual-host requests (`<bucket>.s3.<serviceEndpoint>`).
 */
export async function startS3Server(t: Test, buckets: string[], options: { serviceEndpoint?: string } = {}): Promise<S3Server> {
  const directory = await tempDataDir(t, 'chorus-s3rver')
  const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory, configureBuckets: buckets.map((name) => ({ name, configs: [] })), ...options })
  const { port } = await server.run()
  const close = closeOnce(t, () => server.close())
  const endpoint = `http://127.0.0.1:${port}`
  const url = (bucket: string) => `s3://${bucket}?endpoint=${encodeURIComponent(endpoint)}`
  return {
    endpoint,
    port,
    url,
    bucket(name) {
      const target = parseS3Target(url(name), S3_ENV)
      if (typeof target === 'string') throw new Error(target)
      return createS3Bucket(target)
    },
    onObjectStored(listener) {
      const emitter = server as unknown as EventEmitter
      const onEvent = (event: { Records: Array<{ eventName: string; s3: { object: { key: string } } }> }) => {
        for (const r of event.Records) if (r.eventName.startsWith('ObjectCreated:')) listener(r.s3.object.key)
      }
      emitter.on('event', onEvent)
      return () => emitter.off('event', onEvent)
    },
    close,
  }
}
