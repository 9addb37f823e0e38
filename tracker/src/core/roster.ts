// The roster of one swarm: the tracker's table of who is in it, the ones it hands out, and the
// choice of whom an announce's offers go to. ("Swarm" is the concept, everyone announcing one
// info_hash; a roster is the tracker's record of one. See the glossary in README.md.)
//
// Spotify's tracker remembered the 20 most recent holders of a track and handed out up to 10.
// Here every connected peer that announced stays a member (answers are routed to it), and two
// short recency lists, holders (left = 0) and seekers (everyone else), each capped, say who is
// handed out. A peer pushed out of its list is handed out again once it announces again.
//
// A peer_id belongs to the socket that first announced it here, until that socket leaves (the
// core refuses the others), and one client address holds at most `perAddress` slots of each list,
// so that one client cannot fill the lists with made-up peers and take every offer (an eclipse).

/** One socket's place in one swarm's roster, under one peer id. */
export interface Membership {
  readonly infoHash: string
  readonly peerId: string
  readonly socket: number
  /** The socket's address key (address.ts), or undefined where per-address rules do not apply. */
  readonly address: string | undefined
  holder: boolean
  /** Activity order: a counter, bumped by each announce (a small integer costs no heap object). */
  seq: number
  /** `left` of its last announce here (-1: not said): a decrease is download progress (exposure.ts). */
  left: number
  /** The socket's next membership: a socket's memberships form a list, with no array to allocate. */
  next: Membership | undefined
}

/** How long a roster's lists grow: its holders and seekers lists, and one address's share of each. */
export interface RosterCaps {
  holders: number
  seekers: number
  /** Slots of each list one address may hold. */
  perAddress: number
}

export class Roster {
  /** Every member by peer id (the core lets only the socket that holds a peer id announce it). */
  readonly members = new Map<string, Membership>()
  /** Least recently active first. Arrays, not Maps: they are short, and memory per peer counts. */
  readonly holders: Membership[] = []
  readonly seekers: Membership[] = []

  constructor(
    readonly infoHash: string,
    private readonly caps: RosterCaps,
  ) {}

  get size(): number {
    return this.members.size
  }

  /** Makes `member` the most recently active peer of its list. */
  touch(member: Membership): void {
    const previous = this.members.get(member.peerId)
    if (previous !== undefined) this.unlist(previous)
    if (previous !== member) this.members.set(member.peerId, member)
    const list = member.holder ? this.holders : this.seekers
    list.push(member)
    if (member.address !== undefined) this.capAddress(list, member.address)
    if (list.length > (member.holder ? this.caps.holders : this.caps.seekers)) list.shift()
  }

  /** Unlists the least recently active peer of `address` while it holds more than its share of `list`. */
  private capAddress(list: Membership[], address: string): void {
    let count = 0
    for (let i = 0; i < list.length; i++) if ((list[i] as Membership).address === address) count++
    for (let i = 0; count > this.caps.perAddress && i < list.length; i++) {
      if ((list[i] as Membership).address === address) {
        list.splice(i--, 1)
        count--
      }
    }
  }

  /** Forgets `member`, unless its peer id has since been taken by another socket's membership. */
  remove(member: Membership): void {
    if (this.members.get(member.peerId) !== member) return
    this.members.delete(member.peerId)
    this.unlist(member)
  }

  private unlist(member: Membership): void {
    for (const list of [this.holders, this.seekers]) {
      const index = list.indexOf(member)
      if (index >= 0) {
        list.splice(index, 1)
        return
      }
    }
  }

  /**
   * Up to `count` listed peers other than `self`: holders before seekers, and within each, peers
   * of the announcer's network before the others; random order within a group so that load spreads.
   * A peer `accept` refuses (gone, or a pairing over a listener's limit) is passed over for the next.
   */
  pick(self: string, count: number, network: string | undefined, networkOf: (member: Membership) => string | undefined, random: () => number, accept?: (member: Membership) => boolean): Membership[] {
    const chosen: Membership[] = []
    for (const list of [this.holders, this.seekers]) {
      if (chosen.length >= count) break
      const near: Membership[] = []
      const far: Membership[] = []
      for (const member of list) {
        if (member.peerId === self) continue
        if (network !== undefined && networkOf(member) === network) near.push(member)
        else far.push(member)
      }
      takeRandom(near, count - chosen.length, chosen, random, accept)
      takeRandom(far, count - chosen.length, chosen, random, accept)
    }
    return chosen
  }
}

/**
 * Moves up to `count` random items of `from` that `accept` takes into `into` (a partial
 * Fisher-Yates shuffle: each item is drawn at most once, so `accept` sees each at most once).
 */
function takeRandom<T>(from: T[], count: number, into: T[], random: () => number, accept?: (item: T) => boolean): void {
  let taken = 0
  for (let i = 0; i < from.length && taken < count; i++) {
    const j = i + Math.floor(random() * (from.length - i))
    const item = from[j] as T
    from[j] = from[i] as T
    if (accept !== undefined && !accept(item)) continue
    into.push(item)
    taken++
  }
}
