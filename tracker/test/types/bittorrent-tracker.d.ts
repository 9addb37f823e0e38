// The slice of bittorrent-tracker's client the compatibility test drives (the package ships no types).
declare module 'bittorrent-tracker/client' {
  import { EventEmitter } from 'node:events'
  export interface ClientOptions {
    infoHash: string
    peerId: string
    announce: string[]
    port: number
    wrtc?: unknown
    getAnnounceOpts?: () => Record<string, unknown>
    rtcConfig?: unknown
  }
  export default class Client extends EventEmitter {
    constructor(options: ClientOptions)
    start(options?: Record<string, unknown>): void
    stop(options?: Record<string, unknown>): void
    scrape(options?: Record<string, unknown>): void
    destroy(callback?: (error?: Error) => void): void
  }
}
