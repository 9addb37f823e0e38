import { execFileSync } from 'node:child_process'
import { readFileSync, readdirSync } from 'node:fs'

/**
 * CPU time of processes from /proc (Linux). process.cpuUsage() counts this process only; a
 * stack is a tree of processes (servers, workerd, ffmpeg...), so its CPU is read per process:
 * utime + stime of each live process (all its threads), plus cutime + cstime, the times of the
 * children it has waited for. Summed over the live tree, that counts every process once, the
 * dead ones through the parent that reaped them.
 */

let ticksPerSecond: number | undefined
function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100
    } catch {
      ticksPerSecond = 100
    }
  }
  return ticksPerSecond
}

export interface ProcStat {
  pid: number
  ppid: number
  comm: string
  /** R, S, D, Z (a zombie: exited, not yet reaped)... */
  state: string
  /** utime + stime, seconds: this process and all its threads. */
  self: number
  /** cutime + cstime, seconds: the children it has reaped (and theirs). */
  reaped: number
}

/** Parses one /proc/<pid>/stat line (the command name may hold spaces and parentheses). */
export function parseStat(text: string, hz = clockTicks()): ProcStat {
  const open = text.indexOf('(')
  const close = text.lastIndexOf(')')
  const pid = Number(text.slice(0, open).trim())
  const comm = text.slice(open + 1, close)
  // Fields after the name, numbered as in proc(5) from 3 (state).
  const f = text.slice(close + 2).split(' ')
  const field = (n: number) => Number(f[n - 3])
  return { pid, ppid: field(4), comm, state: f[0] ?? '?', self: (field(14) + field(15)) / hz, reaped: (field(16) + field(17)) / hz }
}

export function readStat(pid: number | 'self'): ProcStat | undefined {
  try {
    return parseStat(readFileSync(`/proc/${pid}/stat`, 'utf8'))
  } catch {
    return undefined
  }
}

export function procAvailable(): boolean {
  return readStat('self') !== undefined
}

/** Every live process under `root` (itself included), each with its own stat. */
export function processTree(root: number): ProcStat[] {
  const all: ProcStat[] = []
  let names: string[] = []
  try {
    names = readdirSync('/proc')
  } catch {
    return []
  }
  for (const name of names) {
    if (!/^\d+$/.test(name)) continue
    const s = readStat(Number(name))
    if (s) all.push(s)
  }
  const children = new Map<number, ProcStat[]>()
  for (const s of all) {
    const list = children.get(s.ppid)
    if (list) list.push(s)
    else children.set(s.ppid, [s])
  }
  const rootStat = all.find((s) => s.pid === root)
  if (!rootStat) return []
  const out: ProcStat[] = []
  const stack = [rootStat]
  while (stack.length) {
    const s = stack.pop()!
    out.push(s)
    stack.push(...(children.get(s.pid) ?? []))
  }
  return out
}

/** A process's command line, arguments split; empty when it is gone. */
export function cmdline(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean)
  } catch {
    return []
  }
}

/** The CPU of this process's reaped children (the kernel's RUSAGE_CHILDREN), seconds. */
export function reapedChildrenCpu(): number {
  return readStat('self')?.reaped ?? Number.NaN
}
