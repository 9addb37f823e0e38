export { COMPATIBILITY_DATE, ROOT, signingKeyText, startNodeOrigin, startWorkerOrigin, startWorkerOriginWith, bundleOriginWorker } from './start-origins.js'
export { originCompliance, until, sleep, ingestInto, expectError } from './origin-compliance.js'
