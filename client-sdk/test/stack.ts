import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import wrtc from '@roamhq/wrtc'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Test } from 'tap'
import { startEdge, startTestOrigin } from '../../test-support/edge.js'
import { startOrigin } from '../../origin/index.js'
import { ingestFile } from '../../origin/index.js'
import { loadOriginKeys } from '../../origin/index.js'
import { makeWav, tempDataDir } from '../../test-support/fixtures.js'
import { type Manifest, decryptChunk, fromBase64Url, importTrackKey, verifySignedManifest, importManifestPublicKey } from '../../protocol/index.js'
import { type TrackerServerOptions, createTrackerServer } from '../../tracker/index.js'
import { type ClientOptions, createClient } from '../index.js'

export const API_KEY = 'k'

/** A track for the stack: `seconds` of makeWav's chords, or a WAV of the test's own. */
export type StackTrack = { trackId: string; seconds: number } | { trackId: string; wav: Uint8Array }

export interface StackOptions {
  chunkSize?: number
  /** The masters' codec: ingest's default (AAC in fragmented MP4 with ffmpeg, which CI has), or 'mp3' for an old catalog. */
  codec?: 'aac' | 'mp3'
  bitrates?: number[]
  /** Session tokens' lifetime at the origin (default: the origin's, an hour). */
  tokenTtlSec?: number
  /** Where the edge's Cache API keeps its entries on disk (Miniflare's cachePersist): a test can read every byte the tier holds. */
  edgeCachePersist?: string
  /** The tracker's options (e.g. a token verifier, which turns auth on), or a function of the origin's public key that makes them. */
  tracker?: TrackerServerOptions | ((originPublicKey: string) => TrackerServerOptions)
}

/**
 * The real stack for SDK tests: an origin process's code on a real port, the edge Worker in
 * workerd (Miniflare) in front of it, and the tracker on a `ws` server. Tracks are WAVs
 * ingested by the origin's own code.
 */
export async function startStack(t: Test, tracks: StackTrack[], options: StackOptions = {}) {
  const dataDir = await tempDataDir(t, 'chorus-sdk')
  const keys = await loadOriginKeys(dataDir)
  for (const track of tracks) {
    const wav = join(dataDir, `${track.trackId}.wav`)
    await writeFile(wav, 'wav' in track ? track.wav : makeWav(track.seconds))
    await ingestFile(
      wav,
      { trackId: track.trackId, title: track.trackId },
      { dataDir, keys, bitrates: options.bitrates ?? [96, 160], chunkSize: options.chunkSize ?? 16384, ...(options.codec && { codec: options.codec }) },
    )
  }
  const origin =
    options.tokenTtlSec === undefined
      ? await startTestOrigin(t, dataDir)
      : await (async () => {
          const o = await startOrigin({ dataDir, env: { CHORUS_API_KEYS: API_KEY }, tokenTtlSec: options.tokenTtlSec })
          t.teardown(() => o.close())
          return o
        })()
  const edge = await startEdge(
    t,
    { ORIGIN_URL: origin.url, ORIGIN_PUBLIC_KEY: keys.publicKey, READ_AHEAD: '0' },
    options.edgeCachePersist === undefined ? {} : { cachePersist: options.edgeCachePersist },
  )
  const tracker = createTrackerServer(typeof options.tracker === 'function' ? options.tracker(keys.publicKey) : (options.tracker ?? {}))
  const { url } = await tracker.listen()
  let trackerClosed = false
  const closeTracker = async () => {
    if (trackerClosed) return
    trackerClosed = true
    await tracker.close()
  }
  t.teardown(closeTracker)
  return {
    dataDir,
    origin,
    edge,
    trackerUrl: `${url.replace(/^http/, 'ws')}/announce`,
    closeTracker,
    publicKey: keys.publicKey,
    /** A client with its own cache directory, closed when the test ends; keys and sessions from the origin. */
    async client(extra: Partial<ClientOptions> = {}) {
      const dir = await mkdtemp(join(tmpdir(), 'chorus-sdk-cache-'))
      const client = await createClient({ edge: edge.url, keys: origin.url, tracker: `${url.replace(/^http/, 'ws')}/announce`, apiKey: API_KEY, publicKey: keys.publicKey, cache: { dir }, ...extra })
      t.teardown(async () => {
        await client.close()
        await rm(dir, { recursive: true, force: true })
      })
      return { client, dir }
    },
    /** The track's manifest as the origin signed it. */
    async manifest(trackId: string): Promise<Manifest> {
      const doc = await (await fetch(`${origin.url}/v1/tracks/${trackId}/manifest`)).json()
      return verifySignedManifest(doc, await importManifestPublicKey(keys.publicKey))
    },
    /** The plain bytes the origin encrypted for one quality (MP4: the fragments, without the init segment): fetched and decrypted without the SDK. */
    async master(trackId: string, bitrate: number): Promise<Buffer> {
      const m = await this.manifest(trackId)
      const q = m.qualities.find((x) => x.bitrate === bitrate)!
      const session = (await (await fetch(`${origin.url}/v1/session`, { method: 'POST', headers: { 'x-api-key': API_KEY } })).json()) as { token: string }
      const keyDoc = (await (await fetch(`${origin.url}/v1/tracks/${trackId}/key`, { headers: { authorization: `Bearer ${session.token}` } })).json()) as { key: string }
      const key = await importTrackKey(keyDoc.key)
      const parts: Uint8Array[] = []
      for (let i = 0; i < q.chunkCount; i++) {
        const enc = new Uint8Array(await (await fetch(`${origin.url}/v1/chunks/${trackId}/${m.version}/${bitrate}/${i}`)).arrayBuffer())
        parts.push(await decryptChunk(key, q.nonce, i, q.chunkSize, enc))
      }
      return Buffer.concat(parts)
    },
    /** What a whole play of one quality streams: the MP4 init segment and the decrypted master, or the MP3 master. */
    async reference(trackId: string, bitrate: number): Promise<Buffer> {
      const q = (await this.manifest(trackId)).qualities.find((x) => x.bitrate === bitrate)!
      const master = await this.master(trackId, bitrate)
      return q.codec === 'aac' ? Buffer.concat([fromBase64Url(q.init), master]) : master
    },
  }
}

/** Reads a whole playback stream. */
export async function drain(stream: ReadableStream<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = []
  for await (const part of stream as unknown as AsyncIterable<Uint8Array>) parts.push(part)
  return Buffer.concat(parts)
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

export async function until(check: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(50)
  }
}

/** @roamhq/wrtc with every RTCPeerConnection counted. */
export function countingWrtc() {
  const counter = { made: 0 }
  class Counted extends wrtc.RTCPeerConnection {
    constructor(config?: RTCConfiguration) {
      super(config)
      counter.made++
    }
  }
  return { counter, wrtc: { ...wrtc, RTCPeerConnection: Counted } }
}
