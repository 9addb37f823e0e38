/**
 * What this listener plays next, learned from what followed what (kept locally, never sent
 * anywhere), and from the album or playlist order an app passes as context. Pure: state in,
 * predictions out; the client persists `toJSON()` where it can.
 */
export interface HabitsState {
  /** prev track -> next track -> times */
  follows: Record<string, Record<string, number>>
}

export interface PlayContext {
  /** The tracks of the album or playlist being played, in order. */
  tracks: string[]
}

const MAX_TRACKS = 5000
const MAX_FOLLOWERS = 20

/** One listener's habits. */
export interface Habits {
  /** `next` was played after `prev` (bounded: the rarest follower and the oldest track are forgotten first). */
  record(prev: string, next: string): void
  /** Up to `limit` (3) likeliest next tracks after `current`, best first: the context's next track, then habits, then the rest of the context. */
  predict(current: string, context?: PlayContext, limit?: number): string[]
  /** The state to persist; createHabits(state) takes it back. */
  toJSON(): HabitsState
}

export function createHabits(initial?: HabitsState): Habits {
  const follows = new Map<string, Map<string, number>>()
  for (const [prev, nexts] of Object.entries(initial?.follows ?? {})) {
    follows.set(prev, new Map(Object.entries(nexts).filter(([, n]) => Number.isFinite(n) && n > 0)))
  }

  return {
    record(prev, next) {
      if (prev === next) return
      let m = follows.get(prev)
      if (!m) {
        if (follows.size >= MAX_TRACKS) follows.delete(follows.keys().next().value!)
        m = new Map()
        follows.set(prev, m)
      }
      m.set(next, (m.get(next) ?? 0) + 1)
      if (m.size > MAX_FOLLOWERS) {
        // Forget the rarest follower: a long tail of one-offs predicts nothing.
        let rarest: string | undefined
        for (const [k, n] of m) if (rarest === undefined || n < m.get(rarest)!) rarest = k
        if (rarest !== undefined) m.delete(rarest)
      }
    },
    predict(current, context, limit = 3) {
      const out: string[] = []
      const add = (id: string | undefined) => {
        if (id !== undefined && id !== current && !out.includes(id) && out.length < limit) out.push(id)
      }
      if (context) {
        const at = context.tracks.indexOf(current)
        if (at >= 0) add(context.tracks[at + 1])
      }
      const m = follows.get(current)
      if (m) for (const [id] of [...m].sort((a, b) => b[1] - a[1])) add(id)
      if (context) {
        const at = context.tracks.indexOf(current)
        for (let i = at + 2; at >= 0 && i < context.tracks.length; i++) add(context.tracks[i])
      }
      return out
    },
    toJSON() {
      const obj: HabitsState = { follows: {} }
      for (const [prev, m] of follows) obj.follows[prev] = Object.fromEntries(m)
      return obj
    },
  }
}
