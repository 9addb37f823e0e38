// Issue 15, findings 3 and 9 (download-only): a listener never uploads more than its ratio of what
// it downloaded over the window (plus the allowance), whatever a peer asks; a download-only
// listener uploads nothing even when asked. Hostile peers reach real SDK clients through the
// real tracker over real WebRTC.

import t from 'tap'
import type { Test } from 'tap'
import { swarmInfoHash } from '../../protocol/index.js'
import { type HostilePeer, hostilePeer, waitFor } from './hostile-peer.js'
import { drain, sleep, startStack, until } from './stack.js'

type Stack = Awaited<ReturnType<typeof startStack>>

async function attacker(t: Test, stack: Stack, trackId: string, left: number, timeoutMs?: number): Promise<HostilePeer> {
  const m = await stack.manifest(trackId)
  return hostilePeer(t, { trackerUrl: stack.trackerUrl, infoHash: await swarmInfoHash(trackId, m.version, 160), left, ...(timeoutMs && { timeoutMs }) })
}

t.test('the ratio rule and download-only hold against peers that ask', async (t) => {
  const stack = await startStack(
    t,
    [
      { trackId: 'ratio', seconds: 30 },
      { trackId: 'more', seconds: 30 },
      { trackId: 'dl', seconds: 20 },
    ],
    { bitrates: [160] },
  )

  t.test('a listener uploads at most allowance + ratio x download, then chokes the peer until it downloads more', async (t) => {
    const allowance = 64 * 1024
    const victim = await stack.client({ speed: 0, upload: { allowanceBytes: allowance, ratio: 1, rate: Number.POSITIVE_INFINITY } })
    await drain(victim.client.play('ratio', { quality: 160 }).stream)
    const downloaded = victim.client.stats().network!.uploads.window.downloaded
    t.ok(downloaded > 300_000, `the victim downloaded ${downloaded} bytes`)

    const h = await attacker(t, stack, 'ratio', 1_000_000)
    const chunks = (await stack.manifest('ratio')).qualities[0]!.chunkCount
    // Everything, again and again, 12 requests outstanding.
    let next = 0
    h.onMessage((m) => {
      if ((m.type === 'piece' && m.offset + m.data.length === m.total) || m.type === 'reject') h.send({ type: 'request', index: next++ % chunks })
    })
    for (let i = 0; i < 12; i++) h.send({ type: 'request', index: next++ % chunks })
    await waitFor(h, (m) => m.type === 'choke', 'the victim to choke the peer when its budget ran out')
    await sleep(1000)
    const budget = allowance + downloaded
    t.ok(h.pieceBytes <= budget, `the peer got ${h.pieceBytes} bytes: within allowance + 1 x download (${budget})`)
    t.ok(h.pieceBytes >= budget - 16 * 1024 * 2, 'and about all of it')
    const up = victim.client.stats().network!.uploads
    t.ok(up.refused.ratio > 0, `requests past it were refused (${up.refused.ratio})`)
    t.ok(up.window.uploaded <= allowance + up.window.downloaded, 'uploaded <= allowance + ratio x downloaded over the window')

    // The victim plays on: what it downloads raises the budget, and the peer is let back in for that much.
    const before = h.pieceBytes
    const more = victim.client.play('more', { quality: 160 })
    t.ok((await drain(more.stream)).equals(await stack.reference('more', 160)), "the victim's own playback is unaffected")
    await waitFor(h, (m) => m.type === 'unchoke', 'the peer to be unchoked once the victim downloaded more')
    await until(() => h.pieceBytes > before, 'the peer to be served again')
    await sleep(1500)
    const w = victim.client.stats().network!.uploads.window
    t.ok(w.uploaded <= allowance + w.downloaded, `still within the rule: uploaded ${w.uploaded} <= ${allowance} + ${w.downloaded}`)
    t.equal(victim.client.stats().network!.protocolViolations, 0, 'a choked peer that is refused is not banned: it asked within the caps')
  })

  t.test('a download-only listener uploads nothing, even when asked, and answers no offer it cannot use', async (t) => {
    // Real time: the victim stays in the swarm (downloading) for most of the track's 20 s, while
    // the attacker gathers its offers' candidates (seconds on a loaded machine). At 3x it had
    // finished and left the swarm before the attacker's offers came, once in CI.
    const victim = await stack.client({ speed: 1, upload: false })
    t.equal(victim.client.stats().privacy.mode, 'download-only')
    const p = victim.client.play('dl', { quality: 160 })
    const out = drain(p.stream)
    const h = await attacker(t, stack, 'dl', 0)
    // It asks for every chunk the victim says it has.
    h.onMessage((m) => {
      if (m.type === 'have') h.send({ type: 'request', index: m.index })
    })
    h.send({ type: 'bitfield', have: new Uint8Array(8) })
    for (let i = 0; i < 8; i++) h.send({ type: 'request', index: i })
    t.ok((await out).equals(await stack.reference('dl', 160)), 'the victim plays the track byte for byte')
    await until(() => h.messages.filter((m) => m.type === 'reject').length >= 8, 'the requests to be refused')
    t.equal(h.pieceBytes, 0, 'the peer got no piece')
    const net = victim.client.stats().network!
    t.equal(net.uploadedBytes, 0, 'the victim uploaded nothing')
    t.ok(net.uploads.refused.download_only >= 8, `every request was refused as download-only (${net.uploads.refused.download_only})`)

    // Done, it can serve nobody: it leaves the swarm (no need to tell the tracker what it played), and a seeker's offer finds nobody to answer.
    await until(() => victim.client.stats().network!.swarms === 0, 'the download-only listener to leave the swarm it finished')
    await t.rejects(attacker(t, stack, 'dl', 1_000_000, 4000), /no matching tracker frame/, 'no answer to a seeker')
  })
})
