// Which client a socket comes from, as the per-address rules (connections, listed slots, bans)
// count it. An IPv6 client commonly holds a whole /64, so a /64 counts as one address; an
// IPv4-mapped IPv6 address counts as its IPv4 address.

const MAX_ADDRESS_CHARS = 64

/**
 * The key the per-address rules count `address` under, or undefined when they do not apply: no
 * address known, or a loopback one while `exemptLoopback` (this machine: tests, benchmarks). A
 * list (X-Forwarded-For) counts its last entry: the one the trusted proxy added.
 */
export function addressKey(address: string | undefined, exemptLoopback: boolean): string | undefined {
  if (address === undefined) return undefined
  let text = (address.slice(address.lastIndexOf(',') + 1) as string).trim().toLowerCase()
  if (text === '') return undefined
  if (text.startsWith('::ffff:') && text.includes('.')) text = text.slice(7)
  if (text.includes(':')) {
    if (exemptLoopback && isIpv6Loopback(text)) return undefined
    return ipv6Prefix64(text) ?? text.slice(0, MAX_ADDRESS_CHARS)
  }
  if (exemptLoopback && text.startsWith('127.')) return undefined
  return text.slice(0, MAX_ADDRESS_CHARS)
}

function isIpv6Loopback(text: string): boolean {
  const groups = expandIpv6(text)
  return groups?.slice(0, 7).every((g) => g === 0) === true && groups[7] === 1
}

/** "2001:db8:1:2::/64" for any address in that /64; undefined when `text` is not IPv6. */
function ipv6Prefix64(text: string): string | undefined {
  const groups = expandIpv6(text)
  if (groups === undefined) return undefined
  return `${groups
    .slice(0, 4)
    .map((g) => g.toString(16))
    .join(':')}::/64`
}

/** The 8 groups of an IPv6 address (zone and embedded IPv4 tail tolerated), or undefined. */
function expandIpv6(text: string): number[] | undefined {
  const bare = text.split('%')[0] as string
  const halves = bare.split('::')
  if (halves.length > 2) return undefined
  const parse = (part: string): number[] | undefined => {
    if (part === '') return []
    const groups: number[] = []
    for (const piece of part.split(':')) {
      if (piece.includes('.')) {
        // An IPv4 tail (::ffff:1.2.3.4 handled above; here e.g. 64:ff9b::1.2.3.4) fills two groups.
        const bytes = piece.split('.').map(Number)
        if (bytes.length !== 4 || !bytes.every((b) => Number.isInteger(b) && b >= 0 && b <= 255)) return undefined
        groups.push(((bytes[0] as number) << 8) | (bytes[1] as number), ((bytes[2] as number) << 8) | (bytes[3] as number))
      } else {
        if (!/^[0-9a-f]{1,4}$/.test(piece)) return undefined
        groups.push(parseInt(piece, 16))
      }
    }
    return groups
  }
  const head = parse(halves[0] as string)
  const tail = halves.length === 2 ? parse(halves[1] as string) : []
  if (head === undefined || tail === undefined) return undefined
  if (halves.length === 1) return head.length === 8 ? head : undefined
  const missing = 8 - head.length - tail.length
  if (missing < 1) return undefined
  return [...head, ...Array<number>(missing).fill(0), ...tail]
}
