import { fmt, mdTable } from '../src/report.js'
import type { PlaybackOptions } from './options.js'
import type { Distribution, PhaseSummary } from './summary.js'

/** The Markdown report of a playback run: every figure beside P2P off, Spotify 2010 and the physical limit; targets checked. */
export interface ReportInput {
  command: string
  options: PlaybackOptions
  machine: { cpu: string; cores: number; node: string; date: string }
  catalog: { tracks: number; minSec: number; maxSec: number; meanSec: number; bitrate: number; chunkSize: number }
  p2p: PhaseSummary
  cdn: PhaseSummary | undefined
  limits: { coldMs: number; rttMs: number; firstChunkMs: number }
  totalWallMs: number
  charts: { ttfa: string; bytes: string }
}

export interface TargetCheck {
  target: string
  value: string
  met: boolean
  /** By how much and why, when missed. */
  note: string
}

const ms = (v: number) => (Number.isFinite(v) ? `${v >= 100 ? Math.round(v) : v.toFixed(1)} ms` : 'n/a')
const pct = (v: number, digits = 1) => (Number.isFinite(v) ? `${(v * 100).toFixed(digits)} %` : 'n/a')
const mb = (v: number) => `${(v / 1e6).toFixed(1)} MB`
const dist = (d: Distribution) => (d.n === 0 ? 'no plays' : `${ms(d.p50)} / ${ms(d.p90)} / ${ms(d.p99)} (${d.n})`)
const rtts = (d: Distribution) => (d.n === 0 ? 'n/a' : `${fmt(d.p50, 1)} / ${fmt(d.p99, 1)} RTT`)

/** When the listeners' processes could not keep up, every time they measured shows it: this paragraph says why. */
function starvation(input: ReportInput): string {
  const { p2p } = input
  if (p2p.eventLoopMs.p99 < 50) return ''
  const pc = p2p.peerConnections
  const per = (v: number) => fmt(v / Math.max(1, pc.created), 1)
  return `The listeners' processes were starved of CPU during the P2P phase: event-loop delay p99 ${ms(p2p.eventLoopMs.p99)}, max ${ms(p2p.eventLoopMs.max)} (${ms(input.cdn?.eventLoopMs.p99 ?? Number.NaN)} with P2P off); ${fmt(p2p.listenerCores, 2)} cores for the listeners against ${fmt(input.cdn?.listenerCores ?? Number.NaN, 2)} with P2P off; load average ${fmt(p2p.loadAverage[0], 1)} then ${fmt(p2p.loadAverage[1], 1)} on ${input.machine.cores} cores. The SDK made ${pc.created} RTCPeerConnections (${fmt(pc.perListenerMinute, 2)} per listener-minute of listening), of which ${pc.connected} ever connected (one per remote listener, reused across swarms; offers only where the connected peers do not cover a swarm, within a budget per client: client-sdk/src/core/peer-connections.ts). Each holds the event loop in its constructor (${per(pc.constructMs)} ms on average here) and in close() (${per(pc.closeMs)} ms), runs threads of its own and holds some 50 sockets. Time to first audio and stalls in this phase measure that, more than the network.`
}

export function checkTargets(input: ReportInput): TargetCheck[] {
  const { p2p } = input
  const starved = starvation(input) ? ' The listeners were also starved of CPU: see below.' : ''
  const rtt = input.options.rttMs
  const origin = input.options.originRttMs
  const path = p2p.coldPath
  const why = `a cold play asks, at once, the edge for the track's head (its manifest and first chunk in one answer: median at ${ms(path.head.p50)}, ${path.head.n} plays) and the key service for the key (in the session request when the client is new: ${path.session.n} plays, median at ${ms(path.session.p50)}; else on its own: ${path.key.n} plays, median at ${ms(path.key.p50)}). The key service runs at the edge's location (the origin Worker), one edge round trip (${rtt} ms) away; a cold edge asks the origin for the whole head in one round trip (${origin} ms), and a head whose manifest is past its TTL is served while it is refreshed. Cold plays whose head the edge had to fetch from the origin: ${dist(p2p.coldEdgeMissMs)}; the others ${dist(p2p.coldEdgeHitMs)}`
  const checks: TargetCheck[] = []
  const c50 = p2p.coldRtts.p50
  checks.push({
    target: 'cold plays p50 within 2 round trips to the edge',
    value: `${fmt(c50, 1)} RTT (${ms(p2p.ttfaMs.cold.p50)})`,
    met: c50 <= 2,
    note: c50 <= 2 ? '' : `missed by ${fmt(c50 / 2, 1)}x: ${why}.${starved}`,
  })
  const c99 = p2p.coldRtts.p99
  checks.push({
    target: 'cold plays p99 within 5 round trips',
    value: `${fmt(c99, 1)} RTT (${ms(p2p.ttfaMs.cold.p99)})`,
    met: c99 <= 5,
    note:
      c99 <= 5
        ? ''
        : `missed by ${fmt(c99 / 5, 1)}x: the same path, plus the edge's misses to the origin and the listeners' own event-loop delay (p99 ${ms(p2p.eventLoopMs.p99)}, max ${ms(p2p.eventLoopMs.max)}).${starved}`,
  })
  // Plays that start from this device: under 20 ms at the median, whatever the network.
  const local = (kind: 'cached' | 'prefetched', how: string) => {
    const { n, p50 } = p2p.ttfaMs[kind]
    checks.push({
      target: `${kind} plays p50 under 20 ms`,
      value: n ? ms(p50) : `no ${kind} play`,
      met: n > 0 && p50 < 20,
      note: n === 0 ? `no play was ${kind}.` : p50 < 20 ? '' : `missed by ${ms(p50 - 20)}: ${how}; the rest is the listener process's event-loop delay (p50 ${ms(p2p.eventLoopMs.p50)}).${starved}`,
    })
  }
  local('cached', 'a cached play reads its manifest and first chunk from the local cache and its key from memory or its lease, or waits a round trip to the key service where neither holds it')
  local('prefetched', 'a prefetched play reads its head from the local cache, verifies and decrypts it')
  checks.push({
    target: 'no stalls',
    value: `${p2p.stalls.count} stalls in ${p2p.stalls.playsWithStall} of ${p2p.plays.started} plays`,
    met: p2p.stalls.count === 0,
    note:
      p2p.stalls.count === 0
        ? ''
        : `missed: ${pct(p2p.stalls.share)} of plays stalled, ${ms(p2p.stalls.perStalledPlayMs)} per stalled play (${pct(p2p.stalls.shareOfListening, 2)} of listening time). Stalls are counted in wall time while audio runs ${input.options.speed}x faster than real time: the buffer ahead drains ${input.options.speed}x faster than in a real session, while round trips keep their real length.${starved}`,
  })
  const warm = p2p.network.warm.serverShare
  const e = p2p.edgeBytes
  checks.push({
    target: 'warm swarm: servers send at most 10 % of network bytes',
    value: pct(warm),
    met: warm <= 0.1,
    note:
      warm <= 0.1
        ? ''
        : `missed by ${fmt((warm - 0.1) * 100, 1)} points. Over the whole phase the edge sent ${mb(p2p.network.edge)}: ${mb(e.plays)} to plays (the first ${10} s of every play that was neither cached nor prefetched come from the edge by design, and ${e.playsWithoutPeersCount} plays got nothing from peers: ${mb(e.playsWithoutPeers)}), and ${mb(e.other)} of prefetched heads (what no peer sent 10 s before the end of the previous track), manifests and keys. With ${input.options.listeners} listeners and ${input.catalog.tracks} tracks, a track outside the top few often has no other listener online: once warm, ${p2p.network.floor.plays} plays had no online listener who had played their track before, and the edge's ${mb(p2p.network.floor.bytes)} to them are ${pct(p2p.network.floor.serverShare)} of the network bytes, a floor no peer rule can go under (before manifests, keys and cold starts' heads).`,
  })
  const pc = p2p.peerConnections
  checks.push({
    target: 'at most 2 RTCPeerConnections per listener-minute',
    value: `${fmt(pc.perListenerMinute, 2)} (${pc.created} over ${fmt(pc.listenerMinutes, 0)} listener-minutes of listening)`,
    met: pc.perListenerMinute <= 2,
    note: `Counted over the listeners' online time on the audio's clock (${input.options.speed}x wall time), as the sim counts it, with the connection rules on the same clock (idle after ${fmt(60 / input.options.speed, 0)} s of wall time, ${input.options.speed} offers a minute); ${fmt(pc.perOnlineWallMinute, 1)} per online minute of wall time. Both ends of a connection count one each.${pc.perListenerMinute <= 2 ? '' : ' Missed: every returning session is a new client, whose connections start again.'}`,
  })
  return checks
}

export function renderReport(input: ReportInput, checks: TargetCheck[]): string {
  const { p2p, cdn, options: o, limits } = input
  const col = (f: (s: PhaseSummary) => string) => [f(p2p), cdn ? f(cdn) : 'not run']
  const rows: string[][] = [
    [
      'time to first audio, cold (p50 / p90 / p99, plays)',
      ...col((s) => dist(s.ttfaMs.cold)),
      '265 ms median, all plays',
      `${ms(limits.coldMs)} (1 RTT ${ms(limits.rttMs)} + first chunk ${ms(limits.firstChunkMs)})`,
    ],
    ['cold, in round trips to the edge (p50 / p99)', ...col((s) => rtts(s.coldRtts)), '', `${fmt(limits.coldMs / limits.rttMs, 1)} RTT`],
    ['time to first audio, cached', ...col((s) => dist(s.ttfaMs.cached)), '', '< 1 ms (local read + one AES-CTR decrypt)'],
    ['time to first audio, prefetched', ...col((s) => dist(s.ttfaMs.prefetched)), '', '< 1 ms'],
    ['time to first audio, all plays', ...col((s) => dist(s.ttfaMs.all)), '265 ms median', ''],
    [
      'plays prefetched: all / queued / habitual / other',
      ...col((s) => `${pct(s.prefetch.hitRate, 0)} / ${pct(s.prefetch.queuedHitRate, 0)} / ${pct(s.prefetch.habitualHitRate, 0)} / ${pct(s.prefetch.otherHitRate, 0)}`),
      '',
      '',
    ],
    ['prefetched bytes never played', ...col((s) => `${mb(s.prefetch.unusedBytes)} of ${mb(s.prefetch.bytes)} (${pct(s.prefetch.unusedShare, 0)})`), '', ''],
    ['plays with a stall', ...col((s) => `${pct(s.stalls.share)} (${s.stalls.playsWithStall} of ${s.plays.started})`), 'under 1 %', '0'],
    ['stall time: total / per stalled play / share of listening', ...col((s) => `${ms(s.stalls.totalMs)} / ${ms(s.stalls.perStalledPlayMs)} / ${pct(s.stalls.shareOfListening, 2)}`), '', '0'],
    [
      'bytes played by source: cache / peers / edge',
      ...col((s) => `${pct(s.played.shares.cache, 0)} / ${pct(s.played.shares.peer, 0)} / ${pct(s.played.shares.edge, 0)}`),
      '55.4 % / 35.8 % / 8.8 %',
      '',
    ],
    ['servers\u2019 share of network bytes, whole phase', ...col((s) => `${pct(s.network.serverShare)} (edge ${mb(s.network.edge)}, peers ${mb(s.network.peer)})`), '19.7 % (8.8 of 44.6)', ''],
    [
      `servers\u2019 share once warm (from ${Math.round(p2p.network.warm.fromMs / 1000)} s)`,
      ...col((s) => `${pct(s.network.warm.serverShare)} (edge ${mb(s.network.warm.edge)}, peers ${mb(s.network.warm.peer)})`),
      '19.7 %',
      `${pct(p2p.network.floor.serverShare)}: the edge's bytes to plays whose track no online listener had played (${p2p.network.floor.plays} plays)`,
    ],
    ['origin bytes (to the edge)', ...col((s) => mb(s.network.origin)), '', ''],
    ['peer connections: established / attempted', ...col((s) => (s.p2p ? `${s.peers.established} / ${s.peers.attempts} (${pct(s.peers.successRate)})` : 'P2P off')), '', ''],
    ['time to first peer byte (p50 / p90 / p99, plays)', ...col((s) => (s.p2p ? dist(s.peers.firstPeerByteMs) : 'P2P off')), '', ''],
    ['edge: requests / hit ratio / requests to the origin', ...col((s) => (s.edge ? `${s.edge.requests} / ${pct(s.edge.hitRatio, 0)} / ${s.edge.originRequests}` : 'n/a')), '', ''],
  ]
  const played = p2p.plays
  const lines = [
    '# Playback benchmark: time to first audio, stalls and offload',
    '',
    `Command: \`${input.command}\` (${input.machine.date}; ${input.machine.cpu}, ${input.machine.cores} cores, Node ${input.machine.node}; ${Math.round(input.totalWallMs / 1000)} s in all).`,
    '',
    '## Scenario',
    '',
    `- ${o.listeners} listeners, each phase ${o.durationSec} s of wall time; audio plays ${o.speed}x faster than real time (the SDK's virtual speaker), so a phase holds about ${Math.round((o.durationSec * o.speed) / 60)} minutes of listening per listener.`,
    `- Catalog: ${input.catalog.tracks} tracks of ${input.catalog.minSec}-${input.catalog.maxSec} s (mean ${input.catalog.meanSec} s), real MP3 at ${input.catalog.bitrate} kbit/s in ${input.catalog.chunkSize / 1024} KiB chunks, ingested by the origin.`,
    `- Popularity: Zipf, solved so the top 12 % of tracks get 88 % of plays; measured here: ${pct(played.topShare, 0)} of plays went to the top 12 %.`,
    `- Sessions: playlists (the app sets the queue: the rest of the playlist) and favourites played in the listener's usual order with no queue (left to the SDK's habits); after the first play of a session, 85 % of plays follow the order and the rest jump elsewhere (a search). Measured: ${pct(played.queuedShare, 0)} of plays were the next of a queue, ${pct(played.predictableShare, 0)} followed a queue or a habit (Spotify: 61 % in a predictable order). 30 % of plays are skipped part way. Listeners arrive over the first quarter of the phase, leave after a session of 3-8 plays, and 75 % come back 2-15 s later with the cache and habits they had.`,
    `- Plays: ${played.total} (${played.started} started: ${played.byKind.cold} cold, ${played.byKind.cached} cached, ${played.byKind.prefetched} prefetched; ${played.ended} to the end, ${played.skipped} skipped, ${played.cut} cut by the end of the phase, ${played.failed} failed). Seed ${o.seed}: the same scripts run in both phases.`,
    '',
    '## How the network was emulated (user space: these kernels have no netem)',
    '',
    `- Listener to edge: the SDK's injected \`fetch\` holds each request back half a round trip and its answer the other half plus its transfer time on the listener's downlink (${o.downKbps / 1000} Mbit/s, answers queued behind each other); round trips ${o.rttMs} ms +- ${Math.round(o.rttJitter * 100)} %, drawn per listener; packet loss ${o.loss} (a lost packet costs one RTT, or a 200 ms RTO at the tail of an answer).`,
    `- Listener to tracker: a TCP proxy per listener holding every segment back half the listener's round trip each way.`,
    `- Edge to origin: a TCP proxy holding segments back ${o.originRttMs / 2} ms each way (${o.originRttMs} ms round trip). The edge is the real Worker in workerd (Miniflare API), with wrangler.toml's settings, fresh for each phase: ${o.edgeStart === 'heads' ? "before the listeners come, every track's head (manifest and first chunk) is asked of it once, as the earlier listeners of a location in use would have, so a cold play meets an edge that has played the track before; the rest of each track starts cold, and the edge's figures count from the phase's start (`--cold-edge` starts it empty)" : 'empty at the start of the phase (`--cold-edge`)'}.`,
    `- Between listeners: real WebRTC data channels (@roamhq/wrtc) on loopback; the SDK's \`testHooks.peerDelayMs\` holds every incoming peer message back half the peer round trip (${o.peerRttMs} ms +- ${Math.round(o.rttJitter * 100)} %). Upload: 4 slots and a token bucket of ${o.uploadKbps / 1000} Mbit/s of real time, scaled by the speed (${((o.uploadKbps * o.speed) / 1000).toFixed(1)} Mbit/s of wall time) so that a listener can serve as many streams as in real time. No loss on peer links (the SDK's peer link offers no hook for it).`,
    `- Time compression: round trips keep their real length while audio runs ${o.speed}x faster; the scheduler's minimum peer deadline is scaled by 1/${o.speed} to match (its other settings are in audio time already). Time to first audio is wall time and comparable to real sessions; stall counts are conservative (buffers drain ${o.speed}x faster than in real time).`,
    '',
    '## Figures',
    '',
    mdTable(['figure', 'Chorus, peer-assisted', 'same scenario, P2P off (plain CDN)', 'Spotify 2010', 'physical limit'], rows),
    '',
    '## Targets',
    '',
    mdTable(
      ['target', 'measured', 'met'],
      checks.map((c) => [c.target, c.value, c.met ? 'yes' : '**no**']),
    ),
    '',
    ...checks.filter((c) => !c.met).map((c) => `- **${c.target}**: ${c.note}`),
    '',
    ...(starvation(input) ? [starvation(input), ''] : []),
    '## Charts',
    '',
    `- [${input.charts.ttfa}](${input.charts.ttfa}): CDF of time to first audio, by kind of play, P2P on (solid) and off (dashed).`,
    `- [${input.charts.bytes}](${input.charts.bytes}): bytes per second by source over the phase, P2P on and off.`,
    '',
    '## The instrument',
    '',
    `The listeners run in ${p2p.workers} worker processes of ${o.perProcess} (each RTCPeerConnection of @roamhq/wrtc holds about 50 file descriptors once it has gathered its candidates, and a process may open 20,000 here; the busiest worker held ${p2p.maxFds}); the proxies and the tracker run in the parent, the origin (chorus origin) and workerd each in its own process, all on ${input.machine.cores} shared cores.`,
    '',
    mdTable(
      ['', 'peer-assisted', 'P2P off'],
      [
        ['event-loop delay in the listeners’ processes, worst worker: p50 / p99 / max', ...col((s) => `${ms(s.eventLoopMs.p50)} / ${ms(s.eventLoopMs.p99)} / ${ms(s.eventLoopMs.max)}`)],
        ['CPU used by the listeners’ processes (cores, on average)', ...col((s) => fmt(s.listenerCores, 2))],
        [
          'RTCPeerConnections made / ever connected / per listener-minute of listening / per online wall minute',
          ...col((s) =>
            s.p2p ? `${s.peerConnections.created} / ${s.peerConnections.connected} / ${fmt(s.peerConnections.perListenerMinute, 2)} / ${fmt(s.peerConnections.perOnlineWallMinute, 1)}` : 'P2P off',
          ),
        ],
        ['event-loop time inside their constructor / close(), total', ...col((s) => (s.p2p ? `${ms(s.peerConnections.constructMs)} / ${ms(s.peerConnections.closeMs)}` : 'P2P off'))],
        ['load average (1 min) at the start / the end of the phase', ...col((s) => `${fmt(s.loadAverage[0], 1)} / ${fmt(s.loadAverage[1], 1)}`)],
      ],
    ),
    '',
    'Every time above includes the event-loop delay. A load average above the core count means other work shared the machine (this is a shared machine): rerun for figures that measure Chorus rather than the neighbours. Percentiles are nearest-rank over the plays counted in brackets: a p99 over fewer than 100 plays is the largest value.',
    '',
  ]
  return lines.join('\n')
}
