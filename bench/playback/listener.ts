import { join } from 'node:path'
import { type ChorusClient, type ClientOptions, type Playback, createClient } from '../../client-sdk/index.js'
import { DEFAULT_CONNECTION_RULES } from '../../client-sdk/core.js'
import type { Catalog } from './catalog.js'
import { createEdgeLink } from './edge-link.js'
import type { ListenerScript } from './scenario.js'

/**
 * One listener going through its script with the real SDK: a client per session (its cache
 * directory and habits outlive the session), a play per planned play, the app's queue set as
 * an app would set it, skips by stopping, the stream drained as a speaker would. Everything it
 * sees goes to `onPlay`/`onSession`; `probe` lets the sampler read its live counters.
 */
export type PlayKind = 'cold' | 'cached' | 'prefetched'

export interface PlayRecord {
  listener: number
  session: number
  rank: number
  trackId: string
  /** null: no audio (an error, or the run ended first). */
  kind: PlayKind | null
  queued: boolean
  habitual: boolean
  /** Wall ms from the phase start to play(). */
  atMs: number
  ttfaMs: number | null
  rttMs: number
  /** The edge answered a request for this track from the origin before the audio started. */
  edgeMiss: boolean
  stalls: number
  stalledMs: number
  bytes: { cache: number; peer: number; edge: number }
  /** Wall ms from play() to the first answer of each kind from the edge, before the audio started: the critical path. */
  path: { session: number | null; head: number | null; manifest: number | null; key: number | null; chunk: number | null }
  /** Wall ms from play() to the first chunk from a peer (polled every 10 ms). */
  firstPeerByteMs: number | null
  peersConnected: number
  outcome: 'ended' | 'skipped' | 'cut' | 'error'
  error?: string
  /** Wall ms the play lasted, from play() to its end, skip or cut. */
  wallMs: number
}

export interface SessionRecord {
  listener: number
  session: number
  plays: number
  prefetchedPlays: number
  prefetchedBytes: number
  prefetchedBytesUnused: number
  attempts: number
  established: number
  failed: number
  uploadedBytes: number
  /** Wall ms from the phase start to createClient, and from there to its close. */
  fromMs: number
  onlineMs: number
}

/** What the sampler reads while the listener plays. */
export interface ListenerProbe {
  online: boolean
  edgeBytes: number
  /** Bytes of plays already over, by source; the live play's are read from it. */
  doneBytes: { cache: number; peer: number; edge: number }
  doneUploaded: number
  playback: Playback | undefined
  client: ChorusClient | undefined
}

export interface ListenerEnv {
  p2p: boolean
  catalog: Catalog
  edgeUrl: string
  keysUrl: string
  /** The listener's WebSocket URL to the tracker (through its own delaying proxy). */
  trackerUrl: string | undefined
  apiKey: string
  cacheDir: string
  speed: number
  phaseStart: number
  deadline: number
  random: () => number
  scheduler?: ClientOptions['scheduler']
  /** The WebRTC implementation handed to the SDK (a counting @roamhq/wrtc). */
  wrtc?: unknown
  onPlay(record: PlayRecord): void
  onSession(record: SessionRecord): void
}

const POLL_MS = 10
const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)))

export function createProbe(): ListenerProbe {
  return { online: false, edgeBytes: 0, doneBytes: { cache: 0, peer: 0, edge: 0 }, doneUploaded: 0, playback: undefined, client: undefined }
}

export async function runListener(script: ListenerScript, env: ListenerEnv, probe: ListenerProbe): Promise<void> {
  const { network } = script
  let answers: Array<{ path: string; xCache: string | null; at: number }> = []
  const link = createEdgeLink({
    rttMs: network.rttMs,
    downBytesPerSec: network.downBytesPerSec,
    loss: network.loss,
    random: env.random,
    onAnswer: (a) => {
      probe.edgeBytes += a.bytes
      answers.push({ path: a.path, xCache: a.xCache, at: performance.now() })
    },
  })
  const now = () => performance.now()

  for (const [sessionIndex, session] of script.sessions.entries()) {
    await sleep(Math.min(session.waitMs, env.deadline - now()))
    if (now() >= env.deadline) break
    const client = await createClient({
      edge: env.edgeUrl,
      keys: env.keysUrl,
      ...(env.p2p && env.trackerUrl && { tracker: env.trackerUrl }),
      p2p: env.p2p,
      apiKey: env.apiKey,
      publicKey: env.catalog.publicKey,
      cache: { dir: env.cacheDir, maxBytes: 256 * 1024 * 1024 },
      speed: env.speed,
      ...(env.scheduler && { scheduler: env.scheduler }),
      fetch: link.fetch,
      // The connection rules run on the audio's clock, as the scheduler's settings do: a connection
      // outlives as many tracks, and the offer budget refills per track, as in a real session.
      testHooks: {
        peerDelayMs: network.peerOneWayMs,
        connections: { idleMs: DEFAULT_CONNECTION_RULES.idleMs / env.speed, offersPerMinute: DEFAULT_CONNECTION_RULES.offersPerMinute * env.speed },
      },
      upload: { slots: 4, rate: network.uploadBytesPerSec },
      ...(env.wrtc !== undefined && { wrtc: env.wrtc }),
    })
    const onlineFrom = now()
    probe.client = client
    probe.online = true
    try {
      for (const planned of session.plays) {
        if (now() >= env.deadline) break
        const track = env.catalog.tracks[planned.rank]!
        answers = []
        const t0 = now()
        const playback = client.play(track.trackId)
        // Set right after play(): the SDK takes the prefetched head of this track at the call.
        client.queue(planned.upcoming.map((r) => env.catalog.tracks[r]!.trackId))
        probe.playback = playback
        void playback.stream.pipeTo(new WritableStream()).catch(() => {})
        let started: { timeToFirstAudioMs: number; fromCache: boolean; prefetched: boolean } | undefined
        let failure: string | undefined
        let ended = false
        playback.ready.then(
          (s) => (started = s),
          (e: Error) => (failure = `${(e as { code?: string }).code ?? 'error'}: ${e.message}`),
        )
        playback.on('end', () => (ended = true))
        let firstPeer: number | null = null
        let edgeMiss = false
        let outcome: PlayRecord['outcome'] = 'cut'
        for (;;) {
          const s = playback.stats()
          if (s && firstPeer === null && s.bytes.peer > 0) firstPeer = now() - t0
          if (!started) edgeMiss ||= answers.some((a) => a.xCache === 'MISS' && a.path.includes(`/${track.trackId}/`))
          if (failure !== undefined) {
            outcome = 'error'
            break
          }
          if (ended || s?.ended) {
            outcome = 'ended'
            break
          }
          if (started && planned.listenMs !== null && s && s.positionMs >= planned.listenMs) {
            outcome = 'skipped'
            break
          }
          if (now() >= env.deadline) break
          await sleep(POLL_MS)
        }
        const wallMs = now() - t0
        const firstAt = (test: (path: string) => boolean) => {
          const a = answers.find((x) => test(x.path) && (started === undefined || x.at - t0 <= started.timeToFirstAudioMs + 1))
          return a ? a.at - t0 : null
        }
        const path = {
          session: firstAt((p) => p === '/v1/session'),
          head: firstAt((p) => p.endsWith(`/${track.trackId}/head`)),
          manifest: firstAt((p) => p.endsWith(`/${track.trackId}/manifest`)),
          key: firstAt((p) => p.endsWith(`/${track.trackId}/key`)),
          chunk: firstAt((p) => p.startsWith(`/v1/chunks/${track.trackId}/`)),
        }
        playback.stop()
        const s = playback.stats()
        const bytes = s?.bytes ?? { cache: 0, peer: 0, edge: 0 }
        for (const k of ['cache', 'peer', 'edge'] as const) probe.doneBytes[k] += bytes[k]
        probe.playback = undefined
        const kind: PlayKind | null = started ? (started.prefetched ? 'prefetched' : started.fromCache ? 'cached' : 'cold') : null
        env.onPlay({
          listener: script.index,
          session: sessionIndex,
          rank: planned.rank,
          trackId: track.trackId,
          kind,
          queued: planned.queued,
          habitual: planned.habitual,
          atMs: t0 - env.phaseStart,
          ttfaMs: started?.timeToFirstAudioMs ?? null,
          rttMs: network.rttMs,
          edgeMiss,
          stalls: s?.stalls ?? 0,
          stalledMs: s?.stalledMs ?? 0,
          bytes,
          path,
          firstPeerByteMs: firstPeer,
          peersConnected: s?.peersConnected ?? 0,
          outcome,
          ...(failure !== undefined && { error: failure }),
          wallMs,
        })
        if (outcome === 'cut') break
      }
    } finally {
      await client.close()
      const c = client.stats()
      probe.doneUploaded += c.network?.uploadedBytes ?? 0
      probe.client = undefined
      probe.online = false
      env.onSession({
        listener: script.index,
        session: sessionIndex,
        plays: c.plays,
        prefetchedPlays: c.prefetchedPlays,
        prefetchedBytes: c.prefetchedBytes,
        prefetchedBytesUnused: c.prefetchedBytesUnused,
        attempts: c.network?.attempts ?? 0,
        established: c.network?.established ?? 0,
        failed: c.network?.failed ?? 0,
        uploadedBytes: c.network?.uploadedBytes ?? 0,
        fromMs: onlineFrom - env.phaseStart,
        onlineMs: now() - onlineFrom,
      })
    }
  }
}

export const cacheDirFor = (root: string, listener: number) => join(root, `listener-${listener}`)
