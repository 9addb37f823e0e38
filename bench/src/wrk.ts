import { execFile } from 'node:child_process'
import { rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { ensureDebianPackage } from './machine.js'

const run = promisify(execFile)

export interface LoadResult {
  rps: number
  p50Ms: number
  p99Ms: number
  errors: number
}

function toMs(value: string, unit: string): number {
  const n = Number(value)
  return unit === 'us' ? n / 1000 : unit === 's' ? n * 1000 : n
}

/**
 * Load from wrk (a C load generator from Debian), as the baselines in ANCHORS.md were measured:
 * a Node load generator would share the core it measures and flatter nobody.
 */
export async function wrkLoad(baseUrl: string, paths: string[], options: { seconds: number; connections?: number; threads?: number; cpu?: number }): Promise<LoadResult> {
  ensureDebianPackage('wrk')
  const script = join(tmpdir(), `chorus-wrk-${process.pid}-${Math.random().toString(36).slice(2)}.lua`)
  await writeFile(
    script,
    `local paths = {${paths.map((p) => JSON.stringify(p)).join(',')}}
local i = 0
request = function()
  i = i + 1
  return wrk.format("GET", paths[(i % #paths) + 1])
end
`,
  )
  const args = [`-t${options.threads ?? 1}`, `-c${options.connections ?? 64}`, `-d${options.seconds}s`, '--latency', '-s', script, baseUrl]
  // With `cpu`, wrk runs on that core alone (taskset), away from the server it loads.
  const { stdout } = await (options.cpu === undefined ? run('wrk', args, { maxBuffer: 1 << 20 }) : run('taskset', ['-c', String(options.cpu), 'wrk', ...args], { maxBuffer: 1 << 20 })).finally(() =>
    rm(script, { force: true }),
  )
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1] ?? Number.NaN)
  const pct = (p: string) => {
    const m = new RegExp(`\\s${p}%\\s+([\\d.]+)(us|ms|s)`).exec(stdout)
    return m ? toMs(m[1]!, m[2]!) : Number.NaN
  }
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(stdout)?.[1] ?? 0)
  const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(stdout)
  const errors = non2xx + (socketErrors ? socketErrors.slice(1).reduce((n, v) => n + Number(v), 0) : 0)
  return { rps, p50Ms: pct('50'), p99Ms: pct('99'), errors }
}
