import { run } from './index.js'

run(process.argv.slice(2)).then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`first-run: ${error instanceof Error ? error.message : String(error)}\n`)
    process.exit(1)
  },
)
