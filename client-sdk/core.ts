// The SDK's pure cores, reused by the simulation benchmark and `chorus start`: the scheduler,
// the speaker, listening habits, the upload token bucket, the privacy options' parser.
export { createScheduler, DEFAULT_SCHEDULER_CONFIG, type Action, type ChunkLayout, type SchedulerConfig } from './src/core/scheduler.js'
export { createSpeaker } from './src/core/speaker.js'
export { createHabits, type Habits } from './src/core/habits.js'
export { createTokenBucket } from './src/core/token-bucket.js'
export { parseIceServers } from './src/core/privacy.js'
// The tracker client's message pacing (the client itself is in the faces, index.ts and index.browser.ts).
export { DEFAULT_MAX_MESSAGES_PER_SECOND } from './src/p2p/tracker-client.js'
// When to offer (a new RTCPeerConnection), the client's offer budget, when a connection is idle.
export {
  offersToMake,
  createOfferBudget,
  idleConnection,
  announceOnLinks,
  DEFAULT_CONNECTION_RULES,
  type ConnectionRules,
  type OfferSituation,
  type OfferDecision,
} from './src/core/peer-connections.js'
