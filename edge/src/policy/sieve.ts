/**
 * SIEVE (Zhang et al., NSDI'24), byte-aware.
 *
 * One FIFO queue and a "hand". A hit only sets a visited bit, so hits never
 * reorder anything. To evict, the hand walks from the old end towards the new
 * end, clearing visited bits and stopping at the first unvisited object; it
 * stays where it stopped, so survivors keep their place instead of being
 * moved to the head as in CLOCK. New objects enter at the head.
 */
import { LinkedList } from './linked-list.js'
import { HIT, REJECTED, stored } from './access-result.js'
import { checkCapacity, checkSize } from './checks.js'
import type { AccessResult, EvictionPolicy } from './types.js'

interface Entry {
  readonly key: string
  size: number
  visited: boolean
  prev: Entry | null
  next: Entry | null
}

class Sieve implements EvictionPolicy {
  readonly name = 'sieve' as const
  readonly capacityBytes: number
  readonly #index = new Map<string, Entry>()
  readonly #queue = new LinkedList<Entry>()
  #hand: Entry | null = null

  constructor(capacityBytes: number) {
    this.capacityBytes = checkCapacity(capacityBytes)
  }

  get bytes(): number {
    return this.#queue.bytes
  }
  get count(): number {
    return this.#queue.count
  }

  access(key: string, size: number): AccessResult {
    checkSize(size)
    const found = this.#index.get(key)
    if (found !== undefined) {
      if (found.size === size) {
        found.visited = true
        return HIT
      }
      this.remove(key)
    }
    if (size > this.capacityBytes) return REJECTED
    const evicted: string[] = []
    while (this.#queue.bytes + size > this.capacityBytes && this.#queue.count > 0) {
      evicted.push(this.#evictOne())
    }
    const entry: Entry = { key, size, visited: false, prev: null, next: null }
    this.#index.set(key, entry)
    this.#queue.pushHead(entry)
    return stored(evicted)
  }

  #evictOne(): string {
    // The queue is not empty here, so tail is set; the loop ends because each
    // pass clears a bit, and an unvisited object exists after one full turn.
    let node = (this.#hand ?? this.#queue.tail) as Entry
    while (node.visited) {
      node.visited = false
      node = node.prev ?? (this.#queue.tail as Entry)
    }
    this.#hand = node.prev
    this.#queue.unlink(node)
    this.#index.delete(node.key)
    return node.key
  }

  has(key: string): boolean {
    return this.#index.has(key)
  }

  remove(key: string): boolean {
    const entry = this.#index.get(key)
    if (entry === undefined) return false
    if (this.#hand === entry) this.#hand = entry.prev
    this.#index.delete(key)
    this.#queue.unlink(entry)
    return true
  }

  keys(): IterableIterator<string> {
    return this.#index.keys()
  }
}

export function createSieve(capacityBytes: number): EvictionPolicy {
  return new Sieve(capacityBytes)
}
