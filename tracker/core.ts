// The tracker's pure core, reused by the simulation benchmark: requests in, effects out.
export { createTrackerCore, type TrackerCore, type TrackerEffect } from './src/core/tracker-core.js'
export { DEFAULT_TRACKER_OPTIONS } from './src/core/options.js'
