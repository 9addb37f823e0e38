export { COMPATIBILITY_DATE, ROOT, signingKeyText, startNodeOrigin, startWorkerOrigin, startWorkerOriginWith } from './start-origins.js'
export { until, ingestInto, expectError } from './origin-compliance.js'
