import { run } from './index.js'

run(process.argv.slice(2)).catch((error: unknown) => {
  process.stderr.write(`tracker bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`)
  process.exitCode = 1
})
