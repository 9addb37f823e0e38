// The dispatcher: every command lives with its part (or, for `start`, in stack/); the helpers
// they share are in support/command.ts, which imports none of them.
import { commands as benchCommands } from '../bench/src/cli.js'
import { commands as playCommands } from '../client-sdk/index.js'
import { commands as edgeCommands } from '../edge/index.js'
import { commands as originCommands } from '../origin/index.js'
import { type Command, UsageError } from '../support/command.js'
import { commands as trackerCommands } from '../tracker/index.js'
import { start } from './start.js'

const commands: Record<string, Command> = {
  ...originCommands,
  ...edgeCommands,
  ...trackerCommands,
  ...playCommands,
  start,
  ...benchCommands,
}

function usage(): string {
  const width = Math.max(...Object.keys(commands).map((n) => n.length))
  const lines = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`)
  return `chorus: a peer-assisted streaming CDN for encrypted audio\n\nUsage: chorus <command> [options]\n\nCommands:\n${lines.join('\n')}\n\nRun 'chorus <command> --help' for a command's options.\n`
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage())
    return name === undefined ? 2 : 0
  }
  const command = commands[name]
  if (!command) {
    process.stderr.write(`chorus: unknown command '${name}'\n\n${usage()}`)
    return 2
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(`${command.help.trimEnd()}\n`)
    return 0
  }
  try {
    return await command.run(rest)
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`chorus ${name}: ${err.message}\nRun 'chorus ${name} --help' for usage.\n`)
      return 2
    }
    process.stderr.write(`chorus ${name}: ${(err as Error).message}\n`)
    if (process.env.CHORUS_DEBUG) process.stderr.write(`${(err as Error).stack}\n`)
    return 1
  }
}
