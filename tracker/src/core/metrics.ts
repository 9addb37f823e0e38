// /metrics in the Prometheus text format, from the core's stats and the adapter's own counters.

import type { TrackerStats } from './tracker-core.js'

export function renderMetrics(stats: TrackerStats, extra: Record<string, number> = {}): string {
  const lines: string[] = []
  const metric = (name: string, type: 'gauge' | 'counter', help: string, value: number, labels?: string) => {
    if (labels === undefined || !lines.includes(`# TYPE ${name} ${type}`)) {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`)
    }
    lines.push(`${name}${labels ?? ''} ${value}`)
  }
  metric('chorus_tracker_connections', 'gauge', 'Open WebSocket connections.', stats.connections)
  metric('chorus_tracker_swarms', 'gauge', 'Swarms with at least one remembered peer.', stats.swarms)
  metric('chorus_tracker_peers', 'gauge', 'Peers in swarms (one socket in 3 swarms counts 3 times).', stats.peers)
  metric('chorus_tracker_announces_total', 'counter', 'Announces handled (answers and scrapes excluded).', stats.announces)
  metric('chorus_tracker_announces_per_second', 'gauge', 'Announces in the last whole second.', stats.announcesPerSecond)
  metric('chorus_tracker_answers_total', 'counter', 'Answers received.', stats.answers)
  metric('chorus_tracker_scrapes_total', 'counter', 'Scrapes received.', stats.scrapes)
  metric('chorus_tracker_offers_relayed_total', 'counter', 'Offers relayed to peers.', stats.offersRelayed)
  metric('chorus_tracker_answers_relayed_total', 'counter', 'Answers relayed to peers.', stats.answersRelayed)
  metric('chorus_tracker_offers_withheld_total', 'counter', 'Offers not relayed: their swarm was below the minimum size.', stats.offersWithheld)
  const { state } = stats
  metric('chorus_tracker_pending_offers', 'gauge', 'Offers relayed and not yet answered, all sockets.', state.pendingOffers)
  metric('chorus_tracker_pending_offers_max_per_socket', 'gauge', 'Pending-offer entries the largest socket ring has room for.', state.maxPendingOffersPerSocket)
  metric('chorus_tracker_queued_frames', 'gauge', 'Frames waiting for a token check, all sockets.', state.queuedFrames)
  metric('chorus_tracker_memberships_max_per_socket', 'gauge', 'Swarms the busiest socket is in.', state.maxMembershipsPerSocket)
  metric('chorus_tracker_addresses', 'gauge', 'Client addresses with open sockets (per-address rules).', state.addresses)
  metric('chorus_tracker_bans', 'gauge', 'Subjects or addresses with strikes or a ban.', state.bans)
  const rejected = Object.entries(stats.rejected)
  if (rejected.length === 0) metric('chorus_tracker_rejected_total', 'counter', 'Messages or sockets refused, by failure code.', 0)
  for (const [code, count] of rejected) {
    metric('chorus_tracker_rejected_total', 'counter', 'Messages or sockets refused, by failure code.', count ?? 0, `{code="${code}"}`)
  }
  for (const [code, count] of Object.entries(stats.warnings)) {
    metric('chorus_tracker_warnings_total', 'counter', 'Warnings sent, by warning code.', count ?? 0, `{code="${code}"}`)
  }
  for (const [name, value] of Object.entries(extra)) metric(`chorus_tracker_${name}`, 'gauge', name.replaceAll('_', ' ') + '.', value)
  return `${lines.join('\n')}\n`
}

/** Sums the stats of several shards (the sharded Node tracker's /metrics); per-socket maxima stay maxima. */
export function mergeStats(all: TrackerStats[]): TrackerStats {
  const total: TrackerStats = {
    connections: 0,
    swarms: 0,
    peers: 0,
    announces: 0,
    announcesPerSecond: 0,
    answers: 0,
    scrapes: 0,
    offersRelayed: 0,
    answersRelayed: 0,
    offersWithheld: 0,
    rejected: {},
    warnings: {},
    state: { pendingOffers: 0, maxPendingOffersPerSocket: 0, queuedFrames: 0, maxMembershipsPerSocket: 0, addresses: 0, bans: 0 },
  }
  for (const stats of all) {
    for (const key of ['connections', 'swarms', 'peers', 'announces', 'announcesPerSecond', 'answers', 'scrapes', 'offersRelayed', 'answersRelayed', 'offersWithheld'] as const) total[key] += stats[key]
    for (const [code, n] of Object.entries(stats.rejected) as [keyof TrackerStats['rejected'], number][]) total.rejected[code] = (total.rejected[code] ?? 0) + n
    for (const [code, n] of Object.entries(stats.warnings) as [keyof TrackerStats['warnings'], number][]) total.warnings[code] = (total.warnings[code] ?? 0) + n
    for (const key of ['pendingOffers', 'queuedFrames', 'addresses', 'bans'] as const) total.state[key] += stats.state[key]
    for (const key of ['maxPendingOffersPerSocket', 'maxMembershipsPerSocket'] as const) total.state[key] = Math.max(total.state[key], stats.state[key])
  }
  return total
}
