// What the crash-safety tests of every store share: a `chorus ingest` killed like a crashed
// machine, and the check that whatever the catalog then lists is whole.

import { spawn } from 'node:child_process'
import type { Test } from 'tap'
import { chunkMatches, verifySignedManifest } from '../../../protocol/index.js'
import type { OriginKeys } from '../../src/keys.js'
import type { R2BucketLike } from '../../src/r2-store.js'
import type { MasterReader, TrackKeyReader } from '../../src/storage.js'
import { CHORUS } from '../../../test-support/fixtures.js'

/** Everything the catalog lists must verify completely, and have its key (outside the bucket). */
export async function assertCatalogSound(t: Test, store: MasterReader, trackKeys: TrackKeyReader, keys: Pick<OriginKeys, 'verifier'>) {
  const entries = await store.catalog()
  for (const entry of entries) {
    t.equal(await store.currentVersion(entry.trackId), entry.version, `${entry.trackId}: the pointer and the catalog agree`)
    const stored = await store.manifest(entry.trackId, entry.version)
    const manifest = await verifySignedManifest(stored!.doc, keys.verifier)
    for (const q of manifest.qualities) {
      for (let i = 0; i < q.chunkCount; i++) {
        const chunk = await store.chunk(entry.trackId, entry.version, q.bitrate, i)
        if (!chunk || !(await chunkMatches(chunk.bytes, q.hashes[i]!))) t.fail(`${entry.trackId} ${q.bitrate}/${i} does not verify`)
      }
    }
    t.ok(await trackKeys.trackKey(entry.trackId, entry.version), `${entry.trackId} has its key`)
  }
  return entries
}

export interface RunningIngest {
  /** SIGKILL the whole group now. */
  kill(): void
  /** Ends with the process: killed (by us, before it exited) or its exit code. */
  done: Promise<{ killed: boolean; code: number | null }>
}

/**
 * Starts `chorus ingest ARGS` in its own process group, to be killed with kill() like a crash of
 * the machine: the CLI, its encoders and, for R2, its workerd at once.
 */
export function startIngest(args: string[], env?: NodeJS.ProcessEnv): RunningIngest {
  const child = spawn(process.execPath, [CHORUS, 'ingest', ...args], { stdio: 'ignore', detached: true, ...(env && { env: { ...process.env, ...env } }) })
  let killed = false
  const kill = () => {
    try {
      process.kill(-child.pid!, 'SIGKILL')
      killed = true
    } catch {
      // The group is gone already.
    }
  }
  const done = new Promise<{ killed: boolean; code: number | null }>((resolve) => {
    child.on('close', (code) => {
      // workerd outlives its parent unless killed with the group: make sure it is gone before the next run opens the same files.
      kill()
      resolve({ killed: killed && code === null, code })
    })
  })
  return { kill, done }
}

/** `chorus ingest ARGS`, SIGKILLed with its group after `afterMs` if still running. */
export async function ingestThenKill(args: string[], afterMs: number, env?: NodeJS.ProcessEnv): Promise<{ killed: boolean; code: number | null }> {
  const run = startIngest(args, env)
  const timer = setTimeout(run.kill, afterMs)
  try {
    return await run.done
  } finally {
    clearTimeout(timer)
  }
}

/**
 * Publishes into `bucket` again and again, with a crash injected: on the n-th try the n-th write
 * of the publish fails, and every write after it. After each try the catalog (`sound`, which
 * checks it whole) must name the old version, or the new one once a publish made all its writes.
 * Resolves with n then: one more than the writes a publish makes.
 */
export async function cutEachWrite(
  t: Test,
  o: { bucket: R2BucketLike; ingest: (bucket: R2BucketLike) => Promise<{ version: string }>; oldVersion: string; sound: () => Promise<Array<{ version: string }>> },
): Promise<number> {
  const { bucket } = o
  for (let n = 1; n <= 50; n++) {
    let writes = 0
    const cut: R2BucketLike = {
      get: (key, options) => bucket.get(key, options),
      list: (options) => bucket.list(options),
      delete: (keys) => bucket.delete(keys),
      put: (key, value, options) => (++writes >= n ? Promise.reject(new Error(`crash at write ${writes}`)) : bucket.put(key, value, options)),
    }
    const published = await o.ingest(cut).then(
      (r) => r.version,
      () => undefined,
    )
    const entries = await o.sound()
    if (published) {
      t.same(
        entries.map((e) => e.version),
        [published],
        `no cut (${writes} writes): the new version is the track`,
      )
      return n
    }
    t.same(
      entries.map((e) => e.version),
      [o.oldVersion],
      `cut at write ${n}: the old version is still the track`,
    )
  }
  throw new Error('the publish never ends')
}
