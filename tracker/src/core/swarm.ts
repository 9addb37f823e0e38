// One swarm: its peers, the ones it hands out, and the choice of whom an announce's offers go to.
//
// Spotify's tracker remembered the 20 most recent holders of a track and handed out up to 10.
// Here every connected peer that announced stays a member (answers are routed to it), and two
// short recency lists, holders (left = 0) and seekers (everyone else), each capped, say who is
// handed out. A peer pushed out of its list is handed out again once it announces again.

export interface Membership {
  readonly infoHash: string
  readonly peerId: string
  readonly socket: number
  holder: boolean
  /** Activity order: a counter, bumped by each announce (a small integer costs no heap object). */
  seq: number
  /** The socket's next membership: a socket's memberships form a list, with no array to allocate. */
  next: Membership | undefined
}

export interface SwarmCaps {
  holders: number
  seekers: number
}

export class Swarm {
  /** Every member by peer id; a peer id announced again from another socket takes the entry over. */
  readonly members = new Map<string, Membership>()
  /** Least recently active first. Arrays, not Maps: they are short, and memory per peer counts. */
  readonly holders: Membership[] = []
  readonly seekers: Membership[] = []

  constructor(
    readonly infoHash: string,
    private readonly caps: SwarmCaps,
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
    if (list.length > (member.holder ? this.caps.holders : this.caps.seekers)) list.shift()
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
   */
  pick(
    self: string,
    count: number,
    network: string | undefined,
    networkOf: (member: Membership) => string | undefined,
    random: () => number,
  ): Membership[] {
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
      takeRandom(near, count - chosen.length, chosen, random)
      takeRandom(far, count - chosen.length, chosen, random)
    }
    return chosen
  }
}

/** Moves up to `count` random items of `from` into `into` (a partial Fisher-Yates shuffle). */
function takeRandom<T>(from: T[], count: number, into: T[], random: () => number): void {
  const n = Math.min(count, from.length)
  for (let i = 0; i < n; i++) {
    const j = i + Math.floor(random() * (from.length - i))
    const item = from[j] as T
    from[j] = from[i] as T
    into.push(item)
  }
}
