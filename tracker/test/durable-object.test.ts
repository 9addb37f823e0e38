import t from 'tap'
import { trackerCompliance } from './helpers/compliance.js'
import { startWorkerdTracker } from './helpers/start-trackers.js'

trackerCompliance(t, startWorkerdTracker)
