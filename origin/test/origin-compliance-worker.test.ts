import t from 'tap'
import { originCompliance } from './helpers/origin-compliance.js'
import { startWorkerOrigin } from './helpers/start-origins.js'

// The origin Worker over R2, in real workerd: the same suite as the Node origin, unchanged.
originCompliance(t, startWorkerOrigin)
