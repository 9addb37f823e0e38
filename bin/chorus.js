#!/usr/bin/env node
// The `chorus` command. Sources are TypeScript; tsx compiles them on the fly so that a fresh
// clone runs after `npm install` alone, with no build step to forget.
import { register } from 'tsx/esm/api'

register()
const { main } = await import('../cli/main.ts')
const code = await main(process.argv.slice(2))
// A command is done when main() returns, even if a library left a handle open (a failed
// server start, a WebRTC stack): flush what was written, then exit with its code.
process.stdout.write('', () => process.stderr.write('', () => process.exit(code)))
