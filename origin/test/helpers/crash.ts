// What the crash-safety tests of every store share: a `chorus ingest` killed like a crashed
// machine, and the check that whatever the catalog then lists is whole.

import { spawn } from 'node:child_process'
import type { Test } from 'tap'
import { chunkMatches, verifySignedManifest } from '../../../protocol/index.js'
import type { OriginKeys } from '../../src/keys.js'
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
