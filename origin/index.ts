// The origin's face for other parts, the stack, the benchmarks and their tests: Node only.
// The origin Worker (origin/worker/worker.ts) is wrangler's entry and is not re-exported here,
// so nothing Node-only can reach a Worker bundle through this file, nor the other way round.
export { startOrigin, type OriginServer } from './src/server.js'
export { ingestFile, ingestPcm, type IngestOptions, type IngestResult } from './src/ingest.js'
export { loadOriginKeys } from './src/keys.js'
export { buildMaster, type PlainQuality } from './src/masters.js'
export { createStore, publishVersion } from './src/store.js'
export { DEMO_API_KEY } from './src/api-keys.js'
export { DEMO_TRACKS, synthesizeTrack } from './src/audio/demo-music.js'
export { encodeMp3 } from './src/audio/encode.js'
export type { Pcm } from './src/audio/pcm.js'
export { commands } from './src/cli.js'
export { type DemoOptions, ingestDemo } from './src/demo-catalog.js'
// Masters in an R2 bucket from Node (`chorus ingest --to r2://`, `chorus start --cloudflare`).
export { createR2Publisher, createR2Store, sweepR2, type R2BucketLike } from './src/r2-store.js'
export { createKeyServiceWriter } from './src/key-service-client.js'
export type { LocalR2 } from './src/local-r2.js'
/** wrangler's local R2 bucket, loaded on demand: Miniflare is large, and most users of this face never open a bucket. */
export async function openLocalR2(options: { persistDir?: string; bucketName: string }): Promise<import('./src/local-r2.js').LocalR2> {
  return (await import('./src/local-r2.js')).openLocalR2(options)
}
