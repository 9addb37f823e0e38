import { run } from './index.js'

run(process.argv.slice(2)).catch((error: unknown) => {
  process.stderr.write(`cache-policy: ${error instanceof Error ? error.message : String(error)}\n`)
  process.exitCode = 1
})
