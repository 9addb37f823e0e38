// What both builds of the SDK export besides createClient (index.ts for Node, index.browser.ts
// for browsers): the public types, the typed errors, and the tracker client.
export type { ChorusClient, ClientOptions, ClientTestHooks, Playback, PlaybackMedia, PlayOptions, ClientStats, ChorusWarning } from './client.js'
export type { CatalogEntry } from './edge-client.js'
export type { PlaybackStats, PlaybackEvents } from './playback.js'
export { ChorusError, isChorusError, CHORUS_ERROR_CODES, type ChorusErrorCode } from './errors.js'
// The reconnecting, paced tracker client the SDK's peer layer uses; exported for tools and the tracker's own tests.
export {
  createTrackerClient,
  chorusTrack,
  reconnectDelay,
  DEFAULT_MAX_MESSAGES_PER_SECOND,
  type TrackerClient,
  type TrackerClientOptions,
  type WebSocketLike,
  type WebSocketConstructor,
} from './p2p/tracker-client.js'
