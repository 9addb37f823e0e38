export { run, runIngestBench, renderIngestMarkdown, throughput, tableRows } from './run.js'
export { parseIngestOptions, INGEST_DEFAULTS, type IngestBenchOptions } from './options.js'
