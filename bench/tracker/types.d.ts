// bittorrent-tracker ships no types; this is the slice of its server the benchmark uses.
declare module 'bittorrent-tracker/server' {
  import { EventEmitter } from 'node:events'
  import type { Server as HttpServer } from 'node:http'
  export interface ServerOptions {
    http?: boolean
    udp?: boolean
    ws?: boolean | Record<string, unknown>
    stats?: boolean
    interval?: number
  }
  export default class Server extends EventEmitter {
    constructor(options?: ServerOptions)
    http: HttpServer | null
    listen(port: number, hostname: string, onListening?: () => void): void
    close(callback?: () => void): void
  }
}
