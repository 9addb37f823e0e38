// @ts-expect-error: simple-peer ships its browser build as a UMD bundle without types.
import SimplePeer from 'simple-peer/simplepeer.min.js'
import { createBrowserStorage } from './src/cache/browser-storage.js'
import { type ChorusClient, type ClientOptions, type Platform, createClientWith } from './src/client.js'
import type { WebSocketConstructor } from './src/p2p/tracker-client.js'

/**
 * The browser build: the native RTCPeerConnection and WebSocket, the cache in Cache Storage,
 * listening habits in localStorage. Chosen by the "browser" condition of package.json exports.
 */
const HABITS_KEY = 'chorus-habits'

const browserPlatform: Platform = {
  WebSocket: globalThis.WebSocket as unknown as WebSocketConstructor,
  SimplePeer: SimplePeer as Platform['SimplePeer'],
  storage: () => createBrowserStorage(),
  habits: {
    load: async () => {
      const text = globalThis.localStorage?.getItem(HABITS_KEY)
      return text ? JSON.parse(text) : undefined
    },
    save: async (state) => globalThis.localStorage?.setItem(HABITS_KEY, JSON.stringify(state)),
  },
}

export async function createClient(options: ClientOptions): Promise<ChorusClient> {
  return createClientWith(browserPlatform, options)
}

export * from './src/face-common.js'
