// The shard processes run plain JavaScript: under tsx every Node process costs about 40 MB more,
// which for 7 shards is a third of the memory that 100,000 peers need. So the sharded tracker
// bundles shard-worker.ts once with esbuild (installed with tsx, which compiles our sources
// anyway) and leaves packages as imports of their installed files. Without esbuild the shards
// fall back to tsx.

import { mkdtemp, rm } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

export interface ShardScript {
  file: string
  execArgv: string[]
  dispose(): Promise<void>
}

const SOURCE = fileURLToPath(new URL('./shard-worker.ts', import.meta.url))

export async function prepareShardScript(): Promise<ShardScript> {
  let esbuild: typeof import('esbuild')
  try {
    esbuild = await import('esbuild')
  } catch {
    return { file: SOURCE, execArgv: ['--import', import.meta.resolve('tsx')], dispose: async () => {} }
  }
  const dir = await mkdtemp(join(tmpdir(), 'chorus-tracker-shard-'))
  const file = join(dir, 'shard-worker.mjs')
  const require = createRequire(SOURCE)
  await esbuild.build({
    entryPoints: [SOURCE],
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    outfile: file,
    logLevel: 'error',
    plugins: [
      {
        name: 'installed-packages',
        setup(build) {
          // Bare imports stay imports, pointed at the installed package so that they resolve from a temp dir.
          build.onResolve({ filter: /^[^./]/ }, (args) => {
            if (args.path.startsWith('node:')) return { path: args.path, external: true }
            const resolved = import.meta.resolve(args.path, pathToFileURL(args.importer).href)
            return { path: resolved.startsWith('file:') ? resolved : require.resolve(args.path), external: true }
          })
        },
      },
    ],
  })
  return { file, execArgv: [], dispose: () => rm(dir, { recursive: true, force: true }) }
}
