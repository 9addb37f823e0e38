export { COMPATIBILITY_DATE, ROOT, signingKeyText, startNodeOrigin, startS3NodeOrigin, startWorkerOrigin, startWorkerOriginWith } from './start-origins.js'
export { until, ingestInto, expectError } from './origin-compliance.js'
