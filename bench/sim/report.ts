import type { Distribution } from '../playback/summary.js'
import { fmt, mdTable } from '../src/report.js'
import { SIM_DEFAULTS, type SimOptions } from './options.js'
import type { SimSummary } from './summary.js'

/** The Markdown report of a simulation run. */
export interface SimReportInput {
  command: string
  options: SimOptions
  machine: { cpu: string; cores: number; node: string; date: string }
  levels: SimSummary[]
  totalWallSec: number
  chart: string
}

const ms = (v: number) => (Number.isFinite(v) ? `${v >= 100 ? Math.round(v) : v.toFixed(1)} ms` : 'n/a')
const pct = (v: number, d = 1) => (Number.isFinite(v) ? `${(v * 100).toFixed(d)} %` : 'n/a')
const dist = (d: Distribution) => (d.n === 0 ? 'none' : `${ms(d.p50)} / ${ms(d.p99)} (${d.n})`)
const count = (n: number) => n.toLocaleString('en-US')

const WHAT_IF_KEYS = ['seedTracks', 'holderOffers', 'seedFromCache', 'offersPerAnnounce', 'offerBurst', 'offersPerMinute', 'headSec'] as const

/** A run with any of the SDK's rules changed: its report says so first. */
const isWhatIf = (o: SimOptions) => WHAT_IF_KEYS.some((k) => o[k] !== SIM_DEFAULTS[k])

function simTargets(s: SimSummary): Array<{ target: string; value: string; met: boolean }> {
  return [
    { target: 'cold p50 within 2 RTT', value: `${fmt(s.coldRtts.p50, 1)} RTT`, met: s.coldRtts.p50 <= 2 },
    { target: 'cold p99 within 5 RTT', value: `${fmt(s.coldRtts.p99, 1)} RTT`, met: s.coldRtts.p99 <= 5 },
    { target: 'cached p50 under 20 ms', value: ms(s.ttfaMs.cached.p50), met: s.ttfaMs.cached.p50 < 20 },
    { target: 'prefetched p50 under 20 ms', value: ms(s.ttfaMs.prefetched.p50), met: s.ttfaMs.prefetched.p50 < 20 },
    { target: 'no stalls', value: pct(s.stalls.share, 2), met: s.stalls.share === 0 },
    { target: 'RTCPeerConnections per listener-minute at most 2', value: fmt(s.peers.perListenerMinute, 2), met: s.peers.perListenerMinute <= 2 },
    { target: 'servers at most 10 % of network bytes (warm)', value: pct(s.network.serverShare), met: s.network.serverShare <= 0.1 },
  ]
}

export function renderSimReport(input: SimReportInput): string {
  const { options: o, levels } = input
  const col = (f: (s: SimSummary) => string) => levels.map(f)
  const header = ['figure', ...levels.map((s) => `${count(s.population)} listeners`), 'Spotify 2010']
  const rows: string[][] = [
    ['online at once', ...col((s) => count(s.online)), ''],
    ['virtual time simulated (figures from)', ...col((s) => `${s.simulatedSec} s (${o.warmupSec} s)${s.truncated ? ' **cut by the budget**' : ''}`), ''],
    ['plays counted: cold / cached / prefetched', ...col((s) => `${s.plays.byKind.cold} / ${s.plays.byKind.cached} / ${s.plays.byKind.prefetched}`), ''],
    ['time to first audio, cold: p50 / p99 (plays)', ...col((s) => dist(s.ttfaMs.cold)), '265 ms median, all plays'],
    ['cold, in round trips to the edge: p50 / p99', ...col((s) => `${fmt(s.coldRtts.p50, 1)} / ${fmt(s.coldRtts.p99, 1)}`), ''],
    ['time to first audio, cached', ...col((s) => dist(s.ttfaMs.cached)), ''],
    ['time to first audio, prefetched', ...col((s) => dist(s.ttfaMs.prefetched)), ''],
    ['time to first audio, all plays', ...col((s) => dist(s.ttfaMs.all)), '265 ms median'],
    ['plays prefetched: all / queued / habitual', ...col((s) => `${pct(s.prefetch.hitRate, 0)} / ${pct(s.prefetch.queuedHitRate, 0)} / ${pct(s.prefetch.habitualHitRate, 0)}`), ''],
    ['prefetched bytes never played', ...col((s) => pct(s.prefetch.unusedShare, 0)), ''],
    ['plays with a stall; stall time per stalled play', ...col((s) => `${pct(s.stalls.share, 2)}; ${ms(s.stalls.perStalledPlayMs)}`), 'under 1 %'],
    ['bytes played by source: cache / peers / edge', ...col((s) => `${pct(s.played.cache, 0)} / ${pct(s.played.peer, 0)} / ${pct(s.played.edge, 0)}`), '55.4 / 35.8 / 8.8 %'],
    ['**servers\u2019 share of network bytes (warm)**', ...col((s) => `**${pct(s.network.serverShare)}**`), '19.7 %'],
    ['its floor: edge bytes to plays of a track no other listener online held', ...col((s) => pct(s.network.floorShare)), ''],
    [
      'edge bytes: heads / later chunks no connected peer held / later chunks a peer held / prefetched heads / manifests, keys',
      ...col(
        (s) =>
          `${pct(s.network.edgeBy.head, 0)} / ${pct(s.network.edgeBy.noPeer, 0)} / ${pct(s.network.edgeBy.urgent, 0)} / ${pct(s.network.edgeBy.prefetch, 0)} / ${pct(s.network.edgeBy.control, 0)}`,
      ),
      '',
    ],
    ['edge egress: mean / peak (10 s)', ...col((s) => `${fmt(s.edgeLoad.gbps, 2)} / ${fmt(s.edgeLoad.peakGbps, 2)} Gbit/s`), ''],
    ['edge egress per online listener', ...col((s) => `${fmt(s.edgeLoad.kbpsPerListener, 0)} kbit/s`), ''],
    ['same plays from the edge alone (P2P off)', ...col((s) => `${fmt(s.edgeLoad.cdnGbps, 2)} Gbit/s`), ''],
    ['edge requests per second', ...col((s) => count(Math.round(s.edgeLoad.requestsPerSec))), ''],
    ['origin: requests/s, Gbit/s', ...col((s) => `${count(Math.round(s.edgeLoad.originRequestsPerSec))}, ${fmt(s.edgeLoad.originGbps, 3)}`), ''],
    ['RTCPeerConnections: offers + answers, per listener-minute (whole run)', ...col((s) => `${count(s.peers.offers)} + ${count(s.peers.answers)}, ${fmt(s.peers.perListenerMinute, 2)}`), ''],
    ['connections: closed idle / swarms on a connection made for another', ...col((s) => `${count(s.peers.closedIdle)} / ${count(s.peers.swarmsOnExistingConnections)}`), ''],
    ['peer connections: established / attempted', ...col((s) => `${count(s.peers.established)} / ${count(s.peers.attempts)} (${pct(s.peers.successRate, 0)})`), ''],
    ['time to first peer byte: p50 / p99', ...col((s) => dist(s.peers.firstPeerByteMs)), ''],
    ['tracker: announces/s, frames in/s', ...col((s) => (s.tracker ? `${count(Math.round(s.tracker.announcesPerSec))}, ${count(Math.round(s.tracker.messagesPerSec))}` : 'P2P off')), ''],
    ['tracker at the end: swarms, memberships', ...col((s) => (s.tracker ? `${count(s.tracker.swarms)}, ${count(s.tracker.memberships)}` : 'P2P off')), ''],
    [
      'tracker: sockets it closed (rate limit, too many swarms)',
      ...col((s) =>
        s.tracker
          ? `${count(s.tracker.socketsClosed)}${
              Object.keys(s.tracker.rejected).length
                ? ` (${Object.entries(s.tracker.rejected)
                    .map(([k, v]) => `${k} ${v}`)
                    .join(', ')})`
                : ''
            }`
          : 'P2P off',
      ),
      '',
    ],
    ['simulation: wall time, heap', ...col((s) => `${s.wallSec} s, ${count(s.heapMb)} MB`), ''],
  ]
  const first = levels[0]
  const lastLevel = levels[levels.length - 1]
  const growth =
    first && lastLevel && first !== lastLevel
      ? `From ${count(first.population)} to ${count(lastLevel.population)} listeners (${count(first.online)} to ${count(lastLevel.online)} online), the servers' share of network bytes goes from ${pct(first.network.serverShare)} to ${pct(lastLevel.network.serverShare)}, and the edge's egress per online listener from ${fmt(first.edgeLoad.kbpsPerListener, 0)} to ${fmt(lastLevel.edgeLoad.kbpsPerListener, 0)} kbit/s (a plain CDN would send ${fmt((first.edgeLoad.cdnGbps * 1e6) / first.online, 0)} and ${fmt((lastLevel.edgeLoad.cdnGbps * 1e6) / lastLevel.online, 0)}). The tracker's load grows with the listeners online: ${first.tracker ? `${count(Math.round(first.tracker.announcesPerSec))} to ${count(Math.round(lastLevel.tracker?.announcesPerSec ?? 0))} announces per second` : 'no tracker (P2P off)'}.`
      : ''
  const targetRows = levels.map((s) => [`${count(s.population)}`, ...simTargets(s).map((t) => `${t.value} ${t.met ? '(met)' : '(**missed**)'}`)])
  return [
    '# Simulation: the player\u2019s scheduler and the tracker at scale',
    '',
    `Command: \`${input.command}\` (${input.machine.date}; ${input.machine.cpu}, ${input.machine.cores} cores, Node ${input.machine.node}; ${Math.round(input.totalWallSec)} s in all, levels two at a time).`,
    '',
    '## What runs, and what is modelled',
    '',
    ...(isWhatIf(o)
      ? [
          `**What-if run, not the SDK's current rules**: ${o.seedTracks} swarms seeded (the SDK: ${SIM_DEFAULTS.seedTracks}${o.seedTracks > SIM_DEFAULTS.seedTracks ? `; the tracker takes ${o.seedTracks - SIM_DEFAULTS.seedTracks} more swarms per socket than its 32` : ''}); ${o.holderOffers ? 'holders send offers too, the offer rule told they still fetch (the SDK: they wait for seekers\u2019 offers)' : 'a swarm with nothing left to fetch announces without offers, at the tracker\u2019s interval, as the SDK does'}; a new session seeds its ${o.seedFromCache} most recent complete cached tracks (the SDK: ${SIM_DEFAULTS.seedFromCache}); offers: ${o.offersPerAnnounce} per announce, a budget of ${o.offerBurst} at once and ${o.offersPerMinute} a minute (the SDK: ${SIM_DEFAULTS.offersPerAnnounce}, ${SIM_DEFAULTS.offerBurst} and ${SIM_DEFAULTS.offersPerMinute}); a cold play's first ${o.headSec} s from the edge (the SDK: ${SIM_DEFAULTS.headSec}).`,
          '',
        ]
      : []),
    `- **The cores themselves**: every play runs the SDK's scheduler core (client-sdk/src/core/scheduler.ts, default settings) and its speaker core (stalls counted exactly); every listener has the SDK's habits core, its upload token bucket, and its connection rules (client-sdk/src/core/peer-connections.ts, default rules: when an announce carries an offer, at most 1, only while fewer than 2 connected peers cover the swarm, after asking the connected peers first for 1.5 s; the client's offer budget, 3 at once and 1 a minute; which swarms are told to connected peers; a connection carrying nothing fetched and quiet for 60 s is closed), with one connection per remote listener carrying every swarm both are in; every announce, offer and answer goes through the tracker's core (tracker/src/core/tracker-core.ts, default rules: 20 holders and 20 seekers remembered per swarm, 10 peers per announce) as the same JSON frames its \`ws\` server would carry. All under virtual time (an event queue), seeded (seed ${o.seed}).`,
    "- **The start of a play and the prefetch, by the SDK's cores too**: what a play asks for as it starts (client-sdk/src/core/start-path.ts: a prefetched or cached track asks nothing before its first audio, its key from the prefetch, from memory or from its lease of an hour on the device; a cold play asks the edge for the head, the manifest and first chunk in one answer, and at once the key, in the session request when the client has just been created, else on its own) and the prefetch rules (client-sdk/src/core/prefetch-plan.ts: from 30 s before the end the next track, the queue's first, else the habits', within 4 MiB; the chunks of a head's first 10 s asked of peers, at most 4 of each, and from 10 s before the end what they did not send from the edge). Each local step (reading the cached manifest, a lease, the first chunk's decryption) takes 2 ms.",
    `- **The rest of the P2P rules, by the SDK's cores too**: what network.ts does around the connection core (client-sdk/src/core/swarm-rules.ts: 50/60 connections, an offer unanswered for 10 s given up, a fetching swarm short of peers announcing again after 5, 10, 20, 40, 80 s (+- 20 %), the first announce only asking who is there, no offers for 5 minutes after the tracker's peer_limit, the idle sweep every 10 s), which relayed offers are answered (core/offer-admission.ts: at most 8 answered connections being set up, 4 in a swarm, 2 a second, the rest queued a few seconds), the uploads (core/upload-admission.ts, core/upload-budget.ts: 4 peers served at once, nobody in an emergency, at most 8 MiB plus twice the downloads of the last 10 minutes, a peer refused for that choked until the budget is back), the tracker client's pacing (core/message-pacing.ts: at most 15 messages in any 1.3 s) and the seeding (core/seeding.ts: ${o.seedTracks} swarms at most with nothing playing in them, the tracks played last and, as a session starts, its ${o.seedFromCache} most recent whole cached tracks, oldest joined first).`,
    "- **The simulation's own around those cores**: the adapters' timers and which end hears what when; a swarm is one entry however often it was joined (the SDK counts joins); for the offer rule's covering peers, a peer counts as choking only in its emergency; a chunk goes out whole under the upload bandwidth, not fragment by fragment.",
    `- **Network**: ${o.rttMs} ms to the edge and the tracker, ${o.peerRttMs} ms between listeners (each +- ${Math.round(o.rttJitter * 100)} %), ${o.originRttMs} ms from the edge to the origin; ${o.uploadKbps / 1000} Mbit/s up (the SDK's token bucket), ${o.downKbps / 1000} Mbit/s down from the edge (answers queue). A WebRTC connection comes up two peer round trips after the answer reaches the offerer, for ${pct(o.connectSuccess, 0)} of attempts (the rest fail after 10 s). \`have\` messages arrive at once (a few bytes, next to a chunk's 1.6 s of audio); the player ticks every second (the SDK every 100 ms).`,
    "- **Listeners**: sessions from the playback benchmark's planner; each listener met has used the app a while: its cache (the SDK's default, 256 MiB) is full of its history, tracks drawn by popularity (about 57 of them), its 6 favourites the most recent, and its habits know the favourites' order. The world starts warm.",
    "- **Edge**: holds every chunk it fetched once (coalescing concurrent misses, reading 2 chunks ahead), manifests fresh for 10 s; a head made as the edge's head tier makes it (the manifest fresh: its chunk from the cache; past it by less than a week, the edge's STALE_WHILE_REVALIDATE_SEC: served while it is refreshed; else the whole head from the origin in one trip); the tracks of the listeners' histories were served by this edge within that week: their chunks and manifests are held. Sessions and keys come from the key service at the edge's location, one listener round trip, never through the edge.",
    '',
    `## Figures (warm window: from ${o.warmupSec} s of virtual time)`,
    '',
    mdTable(header, rows),
    '',
    '## How the servers\u2019 share and the edge\u2019s load grow',
    '',
    growth,
    '',
    `![servers' share and edge load by listeners](${input.chart})`,
    '',
    '## Targets (those of the playback benchmark)',
    '',
    mdTable(
      ['listeners', 'cold p50 <= 2 RTT', 'cold p99 <= 5 RTT', 'cached p50 < 20 ms', 'prefetched p50 < 20 ms', 'no stalls', 'RTCPeerConnections <= 2 per listener-minute', 'servers <= 10 % (warm)'],
      targetRows,
    ),
    '',
    "A cold play asks for the head and the key at once: a round trip to the edge and one to the key service beside it, plus the head's transfer; a track this edge has not served for a week (no listener's history holds it, and no play of the run asked for it yet) costs one more trip, to the origin, as does any chunk it has never fetched. See the playback report for the path.",
    '',
  ].join('\n')
}
