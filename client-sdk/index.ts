import { readFile, writeFile, mkdir } from 'node:fs/promises'
import { homedir } from 'node:os'
import { join } from 'node:path'
import wrtc from '@roamhq/wrtc'
import SimplePeer from 'simple-peer'
import WebSocket from 'ws'
import { createFsStorage } from './src/cache/fs-storage.js'
import { type ChorusClient, type ClientOptions, type Platform, createClientWith } from './src/client.js'
import type { SimplePeerLike } from './src/p2p/peer-link.js'
import type { WebSocketConstructor } from './src/p2p/tracker-client.js'

/**
 * The Node build: WebRTC from @roamhq/wrtc, WebSockets from `ws`, the cache in a directory
 * (`cache.dir`, default $XDG_CACHE_HOME/chorus or ~/.cache/chorus), listening habits in a
 * JSON file beside it.
 */
function cacheDir(options: ClientOptions): string {
  const given = options.cache === false ? undefined : options.cache?.dir
  return given ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'chorus')
}

const nodePlatform: Platform = {
  WebSocket: WebSocket as unknown as WebSocketConstructor,
  SimplePeer: SimplePeer as unknown as Platform['SimplePeer'],
  wrtc,
  storage: (options) => createFsStorage(join(cacheDir(options), 'chunks')),
}

export async function createClient(options: ClientOptions): Promise<ChorusClient> {
  const dir = options.cache === false ? undefined : cacheDir(options)
  const habitsFile = dir && join(dir, 'habits.json')
  return createClientWith(
    {
      ...nodePlatform,
      ...(habitsFile && {
        habits: {
          load: async () => JSON.parse(await readFile(habitsFile, 'utf8')),
          save: async (state) => {
            await mkdir(dir!, { recursive: true })
            await writeFile(habitsFile, JSON.stringify(state))
          },
        },
      }),
    },
    options,
  )
}

export * from './src/face-common.js'
export type { SimplePeerLike }
// For `chorus play` and `chorus start` (Node only): the command and the web player's bundler.
export { commands } from './src/cli.js'
export { buildPlayer } from './player/build.js'
