// The tracker's face for Node: the `ws` server, the sharded cluster, the token check and the
// `chorus tracker` command. The Durable Object is tracker/src/worker.ts (wrangler's entry); the
// pure rules are in tracker/core.ts.
export { createTrackerServer, type TrackerServer, type TrackerServerOptions } from './src/server.js'
export { createShardedTracker, type ShardedTracker, type ShardedTrackerOptions } from './src/cluster.js'
export { createTokenVerifier, type TokenVerifier } from './src/auth.js'
export { commands } from './src/cli.js'
