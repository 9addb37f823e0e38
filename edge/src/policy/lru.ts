/**
 * Least recently used, byte-aware. The baseline: what Spotify's 2010 client
 * used for its disk cache and what most edge memory tiers still do.
 */
import { LinkedList } from './linked-list.js'
import { HIT, REJECTED, stored } from './access-result.js'
import { checkCapacity, checkSize } from './checks.js'
import type { AccessResult, EvictionPolicy } from './types.js'

interface Entry {
  readonly key: string
  size: number
  prev: Entry | null
  next: Entry | null
}

class Lru implements EvictionPolicy {
  readonly name = 'lru' as const
  readonly capacityBytes: number
  readonly #index = new Map<string, Entry>()
  readonly #list = new LinkedList<Entry>()

  constructor(capacityBytes: number) {
    this.capacityBytes = checkCapacity(capacityBytes)
  }

  get bytes(): number {
    return this.#list.bytes
  }
  get count(): number {
    return this.#list.count
  }

  access(key: string, size: number): AccessResult {
    checkSize(size)
    const found = this.#index.get(key)
    if (found !== undefined) {
      if (found.size === size) {
        this.#list.unlink(found)
        this.#list.pushHead(found)
        return HIT
      }
      this.remove(key)
    }
    if (size > this.capacityBytes) return REJECTED
    const evicted: string[] = []
    while (this.#list.bytes + size > this.capacityBytes) {
      const victim = this.#list.popTail()
      if (victim === null) break
      this.#index.delete(victim.key)
      evicted.push(victim.key)
    }
    const entry: Entry = { key, size, prev: null, next: null }
    this.#index.set(key, entry)
    this.#list.pushHead(entry)
    return stored(evicted)
  }

  has(key: string): boolean {
    return this.#index.has(key)
  }

  remove(key: string): boolean {
    const entry = this.#index.get(key)
    if (entry === undefined) return false
    this.#index.delete(key)
    this.#list.unlink(entry)
    return true
  }

  keys(): IterableIterator<string> {
    return this.#index.keys()
  }
}

export function createLru(capacityBytes: number): EvictionPolicy {
  return new Lru(capacityBytes)
}
