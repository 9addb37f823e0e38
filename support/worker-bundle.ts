import { build } from 'esbuild'

/**
 * A Worker's entry bundled the way wrangler bundles it (esbuild, one ESM file, the workerd
 * package conditions), for the tests and benchmarks that run a Worker under Miniflare without
 * wrangler in front: the real Worker, not a stand-in. Writes `outfile` and returns it.
 */
export async function bundleWorkerScript(entry: string, outfile: string): Promise<string> {
  await build({
    entryPoints: [entry],
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    target: 'es2022',
    conditions: ['workerd', 'worker', 'browser'],
    mainFields: ['module', 'main'],
    outfile,
    logLevel: 'silent',
  })
  return outfile
}
