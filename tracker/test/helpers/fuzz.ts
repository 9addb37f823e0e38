// Seeded malformed tracker messages: broken JSON, wrong types, ids of the wrong length, binary
// frames, unknown actions, oversize frames, and random mutations of valid messages.

import { randomBytes } from 'node:crypto'
import { seeded } from '../../../test-support/seeded.js'

export { seeded }

export function fuzzMessages(seed: number, count: number, oversizeChars = 70_000): Array<string | Buffer> {
  const random = seeded(seed)
  const int = (n: number) => Math.floor(random() * n)
  const pick = <T>(items: readonly T[]): T => items[int(items.length)] as T
  const hex = (n: number) => Array.from({ length: n }, () => '0123456789abcdef'[int(16)]).join('')
  const bin = (n: number) => Array.from({ length: n }, () => String.fromCharCode(int(256))).join('')
  const id = () => (random() < 0.5 ? hex(40) : bin(20))
  const badId = () => pick([hex(int(39)), hex(41 + int(20)), bin(int(20)), bin(21 + int(10)), 'g'.repeat(40), null, 17, [], {}, true])
  const junk = () => pick<unknown>([null, true, -1, 1.5, 'x', [], {}, [1, 'a'], { a: 1 }, '', 2 ** 60])
  const valid = (): Record<string, unknown> => {
    const kind = int(3)
    if (kind === 0) {
      return { action: 'announce', info_hash: id(), peer_id: id(), numwant: 2, left: int(2) * 100, event: 'started', offers: [{ offer: { type: 'offer', sdp: `v=0 ${hex(16)}` }, offer_id: id() }] }
    }
    if (kind === 1) return { action: 'announce', info_hash: id(), peer_id: id(), to_peer_id: id(), offer_id: id(), answer: { type: 'answer', sdp: 'v=0' } }
    return { action: 'scrape', info_hash: [id(), id()] }
  }
  const messages: Array<string | Buffer> = []
  for (let i = 0; i < count; i++) {
    switch (int(7)) {
      case 0: {
        // Broken JSON: truncated, or random printable text.
        const text = JSON.stringify(valid())
        messages.push(
          random() < 0.5
            ? text.slice(0, 1 + int(text.length - 2))
            : Array.from({ length: 1 + int(80) }, () => String.fromCharCode(32 + int(95)))
                .join('')
                .replace(/^[\s]*$/, '{'),
        )
        break
      }
      case 1: {
        // A field of the wrong type.
        const message = valid()
        const keys = Object.keys(message).filter((k) => k !== 'action')
        message[pick(keys)] = junk()
        messages.push(JSON.stringify(message))
        break
      }
      case 2: {
        // An id of the wrong length or alphabet.
        const message = valid()
        const field = pick(message.action === 'scrape' ? ['info_hash'] : ['info_hash', 'peer_id', ...('to_peer_id' in message ? ['to_peer_id', 'offer_id'] : [])])
        message[field] = field === 'info_hash' && message.action === 'scrape' ? [badId()] : badId()
        messages.push(JSON.stringify(message))
        break
      }
      case 3:
        messages.push(randomBytes(1 + int(200)))
        break
      case 4:
        messages.push(JSON.stringify({ ...valid(), action: pick([undefined, 'connect', 'ANNOUNCE', 'scrapes', 42, null, '', 'announce ']) }))
        break
      case 5:
        // Oversize only now and then: each one costs a reconnect.
        if (random() < 0.05) messages.push(JSON.stringify({ ...valid(), pad: 'p'.repeat(oversizeChars) }))
        else messages.push(JSON.stringify(pick([[], [valid()], 'announce', 7, null, true])))
        break
      default: {
        // Random mutations of a valid message (some stay valid, which is fine).
        const chars = JSON.stringify(valid()).split('')
        for (let m = 0; m < 1 + int(4); m++) chars[int(chars.length)] = String.fromCharCode(int(128))
        messages.push(chars.join(''))
      }
    }
  }
  return messages
}
