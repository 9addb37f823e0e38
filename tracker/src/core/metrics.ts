// /metrics in the Prometheus text format, from the core's stats and the adapter's own counters.

import { isOutlier } from './exposure.js'
import type { TrackerStats } from './tracker-core.js'
import { EXPOSURE_TOP } from './tracker-core.js'

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
  metric('chorus_tracker_pairings_withheld_total', 'counter', 'Offers not relayed to a peer: the offerer or the receiver had met its hourly limit of peers.', stats.pairingsWithheld)
  const { exposure } = stats
  metric('chorus_tracker_peers_learned_limit', 'gauge', 'Distinct peers one listener may meet per rolling hour (0: no limit).', exposure.limit)
  metric('chorus_tracker_listeners', 'gauge', 'Listeners (subjects, or addresses without auth) that met a peer or made progress this hour.', exposure.listeners)
  metric('chorus_tracker_listeners_at_limit', 'gauge', 'Listeners that met their limit of peers this hour.', exposure.atLimit)
  metric('chorus_tracker_listeners_flagged', 'gauge', 'Listeners that met far more peers than the swarms they made download progress in.', exposure.flagged)
  for (const l of exposure.top) {
    const labels = `{listener="${l.label}"}`
    metric('chorus_tracker_listener_peers_learned', 'gauge', 'Peers met this hour, per listener (hashed subject or address; flagged and busiest first).', l.learned, labels)
    metric('chorus_tracker_listener_swarms_progressing', 'gauge', 'Swarms with download progress this hour, per listener.', l.progressing, labels)
    metric('chorus_tracker_listener_pairings_withheld', 'gauge', 'Pairings withheld at the limit, per listener.', l.withheld, labels)
    metric('chorus_tracker_listener_flagged', 'gauge', 'Whether the listener met far more peers than it made progress in swarms (1: flagged).', l.flagged ? 1 : 0, labels)
  }
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
  for (const [name, value] of Object.entries(extra)) metric(`chorus_tracker_${name}`, 'gauge', `${name.replaceAll('_', ' ')}.`, value)
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
    pairingsWithheld: 0,
    exposure: { limit: 0, listeners: 0, atLimit: 0, flagged: 0, top: [] },
    rejected: {},
    warnings: {},
    state: { pendingOffers: 0, maxPendingOffersPerSocket: 0, queuedFrames: 0, maxMembershipsPerSocket: 0, addresses: 0, bans: 0 },
  }
  for (const stats of all) {
    for (const key of ['connections', 'swarms', 'peers', 'announces', 'announcesPerSecond', 'answers', 'scrapes', 'offersRelayed', 'answersRelayed', 'offersWithheld', 'pairingsWithheld'] as const)
      total[key] += stats[key]
    for (const [code, n] of Object.entries(stats.rejected) as [keyof TrackerStats['rejected'], number][]) total.rejected[code] = (total.rejected[code] ?? 0) + n
    for (const [code, n] of Object.entries(stats.warnings) as [keyof TrackerStats['warnings'], number][]) total.warnings[code] = (total.warnings[code] ?? 0) + n
    for (const key of ['pendingOffers', 'queuedFrames', 'addresses', 'bans'] as const) total.state[key] += stats.state[key]
    for (const key of ['maxPendingOffersPerSocket', 'maxMembershipsPerSocket'] as const) total.state[key] = Math.max(total.state[key], stats.state[key])
  }
  // Each shard counts its own listeners: one listener in swarms of several shards shows once per
  // shard in the counts, and its rows (same label everywhere) are summed here.
  const rows = new Map<string, TrackerStats['exposure']['top'][number]>()
  for (const stats of all) {
    total.exposure.limit = Math.max(total.exposure.limit, stats.exposure.limit)
    total.exposure.listeners += stats.exposure.listeners
    total.exposure.atLimit += stats.exposure.atLimit
    for (const row of stats.exposure.top) {
      const seen = rows.get(row.label)
      if (seen === undefined) rows.set(row.label, { ...row })
      else {
        seen.learned += row.learned
        seen.progressing += row.progressing
        seen.withheld += row.withheld
        seen.flagged = seen.flagged || row.flagged
      }
    }
  }
  for (const row of rows.values()) row.flagged = row.flagged || isOutlier(row.learned, row.progressing, total.exposure.limit)
  total.exposure.flagged = Math.max(...all.map((s) => s.exposure.flagged), [...rows.values()].filter((r) => r.flagged).length, 0)
  total.exposure.top = [...rows.values()].sort((x, y) => Number(y.flagged) - Number(x.flagged) || y.learned - x.learned).slice(0, EXPOSURE_TOP)
  return total
}
