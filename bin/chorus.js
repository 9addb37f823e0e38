#!/usr/bin/env node
// The `chorus` command. Sources are TypeScript; tsx compiles them on the fly so that a fresh
// clone runs after `npm install` alone, with no build step to forget.
import { register } from 'tsx/esm/api'

register()
const { main } = await import('../cli/main.ts')
process.exitCode = await main(process.argv.slice(2))
