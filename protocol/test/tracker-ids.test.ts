import { createHash } from 'node:crypto'
import t from 'tap'
import { binaryIdToHex, hexIdToBinary, isBinaryId, isHexId, swarmInfoHash, toBinaryId, toHexId } from '../src/tracker.js'

t.test('swarmInfoHash is the first 20 bytes of SHA-256 over the documented JSON string', async (t) => {
  const hash = await swarmInfoHash('track-42', 'v3', 160000)
  const expected = createHash('sha256')
    .update(JSON.stringify(['chorus-swarm/1', 'track-42', 'v3', 160000]), 'utf8')
    .digest()
    .subarray(0, 20)
    .toString('hex')
  t.equal(hash, expected)
  t.match(hash, /^[0-9a-f]{40}$/)
})

t.test('swarmInfoHash separates every part of the key', async (t) => {
  const base = await swarmInfoHash('a', 'b', 96)
  t.not(await swarmInfoHash('a', 'b', 160), base, 'bitrate')
  t.not(await swarmInfoHash('a', 'c', 96), base, 'version')
  t.not(await swarmInfoHash('x', 'b', 96), base, 'track')
  // Concatenation without quoting would make these two collide.
  t.not(await swarmInfoHash('a","b', 'c', 96), await swarmInfoHash('a', 'b","c', 96))
  t.equal(await swarmInfoHash('é', 'v', 1), await swarmInfoHash('é', 'v', 1), 'deterministic on non-ASCII')
})

t.test('swarmInfoHash rejects bad input', async (t) => {
  await t.rejects(swarmInfoHash('', 'v', 96), TypeError)
  await t.rejects(swarmInfoHash('t', '', 96), TypeError)
  await t.rejects(swarmInfoHash('t', 'v', 0), TypeError)
  await t.rejects(swarmInfoHash('t', 'v', 1.5), TypeError)
  await t.rejects(swarmInfoHash(1 as unknown as string, 'v', 96), TypeError)
})

t.test('ids convert between the binary and hex wire forms', async (t) => {
  const bytes = Buffer.from(Array.from({ length: 20 }, (_, i) => (i * 37 + 250) & 0xff))
  const hex = bytes.toString('hex')
  const binary = bytes.toString('latin1')
  t.ok(isBinaryId(binary))
  t.ok(isHexId(hex))
  t.equal(binaryIdToHex(binary), hex)
  t.equal(hexIdToBinary(hex), binary)
  t.equal(hexIdToBinary(hex.toUpperCase()), binary)
  t.equal(toBinaryId(hex), binary)
  t.equal(toBinaryId(binary), binary)
  t.equal(toHexId(binary), hex)
  t.equal(toHexId(hex.toUpperCase()), hex)
})

t.test('ids of the wrong shape are refused', async (t) => {
  for (const bad of ['', 'a'.repeat(19), 'a'.repeat(21), 'g'.repeat(40), 'a'.repeat(39), '\u0100'.repeat(20), 42, null, {}]) {
    t.equal(toBinaryId(bad), null, JSON.stringify(bad))
    t.equal(toHexId(bad), null, JSON.stringify(bad))
  }
  t.throws(() => binaryIdToHex('short'), TypeError)
  t.throws(() => hexIdToBinary('zz'.repeat(20)), TypeError)
})
