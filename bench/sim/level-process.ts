import type { SimSummary } from './summary.js'
import { summarizeWorld } from './summary.js'
import { type WorldOptions, runWorld } from './world.js'

/**
 * One level of the simulation in its own process: a fresh heap (a million listeners' state is
 * gigabytes) and a core of its own while another level runs beside it.
 */
export type LevelReply = { type: 'done'; summary: SimSummary } | { type: 'error'; message: string }

process.once('message', (o: WorldOptions) => {
  try {
    const world = runWorld(o)
    const summary = summarizeWorld(o.population, world, o.durationMs)
    process.send!({ type: 'done', summary } satisfies LevelReply, () => process.exit(0))
  } catch (err) {
    process.send!({ type: 'error', message: (err as Error).stack ?? String(err) } satisfies LevelReply, () => process.exit(1))
  }
})
process.on('disconnect', () => process.exit(0))
