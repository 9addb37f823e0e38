/**
 * An intrusive doubly linked list: the nodes carry their own links, so moving
 * or unlinking a node found through a Map is O(1) and allocates nothing.
 * Head is the newest end, tail the oldest.
 */

export interface Linked<T> {
  prev: T | null
  next: T | null
  size: number
}

export class LinkedList<T extends Linked<T>> {
  head: T | null = null
  tail: T | null = null
  bytes = 0
  count = 0

  pushHead(node: T): void {
    node.prev = null
    node.next = this.head
    if (this.head !== null) this.head.prev = node
    else this.tail = node
    this.head = node
    this.bytes += node.size
    this.count++
  }

  unlink(node: T): void {
    if (node.prev !== null) node.prev.next = node.next
    else this.head = node.next
    if (node.next !== null) node.next.prev = node.prev
    else this.tail = node.prev
    node.prev = null
    node.next = null
    this.bytes -= node.size
    this.count--
  }

  popTail(): T | null {
    const node = this.tail
    if (node !== null) this.unlink(node)
    return node
  }
}
