import t from 'tap'
import { trackerCompliance } from './helpers/compliance.js'
import { startNodeTracker } from './helpers/start-trackers.js'

trackerCompliance(t, startNodeTracker)
