// The SDK's pure cores, reused by the simulation benchmark and `chorus start`: the scheduler,
// the speaker, listening habits, the upload token bucket, the privacy options' parser.
export { createScheduler, DEFAULT_SCHEDULER_CONFIG, type Action, type ChunkLayout, type SchedulerConfig } from './src/core/scheduler.js'
export { createSpeaker } from './src/core/speaker.js'
export { createHabits, type Habits } from './src/core/habits.js'
export { createTokenBucket } from './src/core/token-bucket.js'
export { parseIceServers } from './src/core/privacy.js'
// The tracker client's message pacing (the client itself is in the faces, index.ts and index.browser.ts).
export { createMessagePacer, DEFAULT_TRACKER_PACING, type MessagePacer } from './src/core/message-pacing.js'
// When to offer (a new RTCPeerConnection), the client's offer budget, when a connection is idle.
export {
  offersToMake,
  createOfferBudget,
  idleConnection,
  idleSweepMs,
  coversSwarm,
  announceOnLinks,
  DEFAULT_CONNECTION_RULES,
  type ConnectionRules,
  type OfferSituation,
  type OfferDecision,
} from './src/core/peer-connections.js'
// What a play asks for as it starts, what is prefetched and from where, how long a key is held.
export { startPath } from './src/core/start-path.js'
export { prefetchPlan, headChunks, headRequests, DEFAULT_PREFETCH_RULES } from './src/core/prefetch-plan.js'
export { DEFAULT_KEY_TTL_SEC, DEFAULT_KEYS_RENEWED, keysToRenew } from './src/core/key-lease.js'
// What the network does around them: caps, announces, offers given up, the pause after peer_limit.
export {
  DEFAULT_SWARM_RULES,
  announceInterval,
  answerUseful,
  nextAnnounce,
  offerExpired,
  offerOnReply,
  offerRoom,
  peerLimitPausedUntil,
  underHardCap,
} from './src/core/swarm-rules.js'
// Which relayed offers are answered.
export { createOfferAdmission, DEFAULT_OFFER_ADMISSION, type OfferAdmission } from './src/core/offer-admission.js'
// Which peers' requests are served (4 slots, none in an emergency), within the upload ratio.
export {
  createUploadAdmission,
  chokeForRatio,
  unchokeAfterRatio,
  DEFAULT_RATIO_CHOKE,
  DEFAULT_UPLOAD_ADMISSION,
  type UploadAdmission,
} from './src/core/upload-admission.js'
export { createUploadBudget, DEFAULT_UPLOAD_BUDGET, type UploadBudget } from './src/core/upload-budget.js'
// Which swarms are served with nothing playing in them.
export { DEFAULT_SEEDING_RULES, pickCacheSeeds, releaseSeed } from './src/core/seeding.js'
