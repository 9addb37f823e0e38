import t from 'tap'
import { originCompliance } from './helpers/origin-compliance.js'
import { startS3NodeOrigin } from './helpers/start-origins.js'

// The Node origin over a bucket on an S3-compatible server (s3rver): the same suite, unchanged.
originCompliance(t, startS3NodeOrigin)
