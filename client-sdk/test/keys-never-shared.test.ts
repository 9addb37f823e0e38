// "Edges and peers never see a key", end to end: two real SDK clients play one track through the
// real edge (workerd, its Cache API persisted to a directory so that every byte it holds can be
// read) and share it over real WebRTC. The track's key, in every form it travels in (16 bytes,
// base64url, hex), is looked for in every answer the edge gave, every file of the edge's Cache
// API and every message over a peer data channel. The clients did have it: they played the track.

import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import wrtc from '@roamhq/wrtc'
import t from 'tap'
import { fromBase64Url, toHex } from '../../protocol/index.js'
import { drain, startStack } from './stack.js'

/** @roamhq/wrtc whose data channels hand every message, sent or received, to `record`. */
function tappedWrtc(record: (bytes: Uint8Array) => void): unknown {
  const asBytes = (data: unknown) =>
    typeof data === 'string'
      ? new TextEncoder().encode(data)
      : data instanceof ArrayBuffer
        ? new Uint8Array(data)
        : ArrayBuffer.isView(data)
          ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
          : undefined
  const tap = (channel: RTCDataChannel) => {
    const send = channel.send.bind(channel) as (data: unknown) => void
    ;(channel as { send: (data: unknown) => void }).send = (data) => {
      const bytes = asBytes(data)
      if (bytes) record(bytes.slice())
      send(data)
    }
    channel.addEventListener('message', (e) => {
      const bytes = asBytes(e.data)
      if (bytes) record(bytes.slice())
    })
  }
  const Base = (wrtc as unknown as { RTCPeerConnection: new (config?: unknown) => RTCPeerConnection }).RTCPeerConnection
  class TappedPeerConnection extends Base {
    constructor(config?: unknown) {
      super(config)
      // Registered before simple-peer sets ondatachannel, so the channel is tapped before its first use.
      this.addEventListener('datachannel', (e) => tap(e.channel))
    }

    override createDataChannel(label: string, init?: RTCDataChannelInit): RTCDataChannel {
      const channel = super.createDataChannel(label, init)
      tap(channel)
      return channel
    }
  }
  return { ...(wrtc as object), RTCPeerConnection: TappedPeerConnection }
}

function contains(haystack: Uint8Array, needle: Uint8Array): boolean {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer
    return true
  }
  return false
}

async function filesUnder(dir: string): Promise<string[]> {
  const names = (await readdir(dir, { recursive: true })).map(String)
  const out: string[] = []
  for (const name of names) {
    const bytes = await readFile(join(dir, name)).catch(() => undefined)
    if (bytes) out.push(join(dir, name))
  }
  return out
}

t.test("the track key appears in no edge answer, no file of the edge's Cache API and no peer message", async (t) => {
  const persist = await mkdtemp(join(tmpdir(), 'chorus-edge-cache-'))
  t.teardown(() => rm(persist, { recursive: true, force: true }))
  const stack = await startStack(t, [{ trackId: 'song', seconds: 30 }], { edgeCachePersist: persist })
  const reference = await stack.reference('song', 160)

  const edgeAnswers: Uint8Array[] = []
  const recordingFetch: typeof fetch = async (input, init) => {
    const res = await fetch(input, init)
    const body = new Uint8Array(await res.arrayBuffer())
    if (String(input instanceof Request ? input.url : input).startsWith(stack.edge.url)) edgeAnswers.push(body)
    return new Response(body.byteLength || ![101, 204, 205, 304].includes(res.status) ? body : null, { status: res.status, statusText: res.statusText, headers: res.headers })
  }
  const peerMessages: Uint8Array[] = []
  const rtc = tappedWrtc((bytes) => peerMessages.push(bytes))

  const a = await stack.client({ speed: 0, fetch: recordingFetch, wrtc: rtc })
  t.ok((await drain(a.client.play('song', { quality: 160 }).stream)).equals(reference), 'the first listener played the track: it had the key')
  const b = await stack.client({ speed: 6, fetch: recordingFetch, wrtc: rtc })
  const pb = b.client.play('song', { quality: 160 })
  t.ok((await drain(pb.stream)).equals(reference), 'so did the second')
  t.ok(pb.stats()!.bytes.peer > 0, `the second took chunks from the first over WebRTC (${pb.stats()!.bytes.peer} bytes)`)

  // The key as the key service gives it, in each form it could travel in.
  const session = (await (await fetch(`${stack.origin.url}/v1/session`, { method: 'POST', headers: { 'x-api-key': 'k' } })).json()) as { token: string }
  const { key } = (await (await fetch(`${stack.origin.url}/v1/tracks/song/key`, { headers: { authorization: `Bearer ${session.token}` } })).json()) as { key: string }
  const raw = fromBase64Url(key)
  const needles = [raw, new TextEncoder().encode(key), new TextEncoder().encode(toHex(raw))]
  const leaks = (bytes: Uint8Array) => needles.some((n) => contains(bytes, n))

  t.ok(edgeAnswers.length > 0, `${edgeAnswers.length} edge answers read`)
  t.equal(edgeAnswers.filter(leaks).length, 0, 'no edge answer holds the key')
  t.ok(peerMessages.length > 0, `${peerMessages.length} peer messages read`)
  t.equal(peerMessages.filter(leaks).length, 0, 'no peer message holds the key')

  // Every file of the edge's Cache API: the chunks it keeps are there (so the scan sees the tier), the key is not.
  const files = await filesUnder(persist)
  const contents = await Promise.all(files.map((f) => readFile(f)))
  const chunk = edgeAnswers.find((x) => x.byteLength === 16384)!
  t.ok(
    contents.some((c) => contains(c, chunk.subarray(0, 64))),
    `the scan reads what the tier holds (${files.length} files)`,
  )
  t.equal(contents.filter((c) => leaks(c)).length, 0, "no file of the edge's Cache API holds the key")
  // The same scan finds the key where it is meant to be: the listener's own lease (core/key-lease.ts).
  const own = await Promise.all((await filesUnder(a.dir)).map((f) => readFile(f)))
  t.ok(
    own.some((c) => leaks(c)),
    "the scan does find the key where it is kept: the first listener's own key lease, on its device",
  )
})
