// The edge's face for Node: its `chorus edge` command and what tools read from its wrangler.toml.
// The Worker itself is edge/src/worker.ts (wrangler's entry); the pure cache policies are in edge/core.ts.
export { commands } from './src/cli.js'
export { readWranglerVars } from './src/wrangler-vars.js'
export { CONFIG_VARS, type ConfigVar } from './src/config.js'
