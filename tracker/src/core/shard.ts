// Which shard serves a swarm. A shard is one Durable Object or one process; every peer of a swarm
// must reach the same shard, so clients connect to /swarm/<info_hash> and the router applies this.

/** `infoHash` in 20-char binary form; its first 4 bytes, big-endian, modulo `count`. */
export function shardOf(infoHash: string, count: number): number {
  const head = ((infoHash.charCodeAt(0) << 24) | (infoHash.charCodeAt(1) << 16) | (infoHash.charCodeAt(2) << 8) | infoHash.charCodeAt(3)) >>> 0
  return head % count
}
