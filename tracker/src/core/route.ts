// The WebSocket paths a tracker answers. `/` and `/announce` take any swarm (the usual announce
// URLs of stock clients); `/swarm/<info_hash hex>` names the swarm up front so that a router can
// send the socket to the shard that serves it.

import { toBinaryId } from '../../../protocol/index.js'

export type TrackerRoute = { kind: 'any' } | { kind: 'swarm'; infoHash: string }

export function parseTrackerPath(pathname: string): TrackerRoute | null {
  if (pathname === '/' || pathname === '/announce') return { kind: 'any' }
  const match = /^\/swarm\/([0-9a-fA-F]{40})\/?$/.exec(pathname)
  if (match === null) return null
  return { kind: 'swarm', infoHash: toBinaryId(match[1]) as string }
}
