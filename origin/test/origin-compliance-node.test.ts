import t from 'tap'
import { originCompliance } from './helpers/origin-compliance.js'
import { startNodeOrigin } from './helpers/start-origins.js'

// The Node origin over a directory: the reference the Worker origin must match.
originCompliance(t, startNodeOrigin)
