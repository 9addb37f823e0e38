export { run, runFirstRun } from './run.js'
export { parseFirstRunOptions, startArgs, FIRST_RUN_DEFAULTS, TARGETS, type FirstRunOptions } from './options.js'
