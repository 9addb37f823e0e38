/** Where the local cache keeps bytes: a directory in Node, Cache Storage in browsers, memory anywhere. */
export interface CacheStorageBackend {
  get(key: string): Promise<Uint8Array | undefined>
  put(key: string, bytes: Uint8Array): Promise<void>
  delete(key: string): Promise<void>
  /** Every stored entry, least recently used first where the backend can tell. */
  list(): Promise<Array<{ key: string; size: number }>>
}
