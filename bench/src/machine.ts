import { execFileSync, spawnSync } from 'node:child_process'
import { cpus } from 'node:os'

/** Facts about the machine a benchmark ran on, written beside its figures. */
export function machineInfo() {
  let openssl = ''
  try {
    openssl = execFileSync('openssl', ['version'], { encoding: 'utf8' }).trim()
  } catch {}
  return { cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, node: process.version, openssl, date: new Date().toISOString() }
}

function hasCommand(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0
}

/**
 * Installs a Debian package when its command is missing (benchmarks compare against nginx, wrk...).
 * Needs root, as on these machines; says what it does.
 */
export function ensureDebianPackage(command: string, pkg = command): void {
  if (hasCommand(command)) return
  process.stderr.write(`installing ${pkg} from Debian for this benchmark...\n`)
  const run = (args: string[]) => spawnSync('apt-get', args, { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } })
  if (run(['install', '-y', '-qq', pkg]).status !== 0) {
    run(['update', '-qq'])
    if (run(['install', '-y', '-qq', pkg]).status !== 0) throw new Error(`cannot install ${pkg}: install it by hand (apt-get install ${pkg})`)
  }
}
