import { spawn } from 'node:child_process'
import t from 'tap'

// A server's stop, as chorus start's parts see it: Ctrl-C reaches the whole process group, then
// the supervisor sends SIGTERM as it stops its parts. The second signal must not end the process
// in the middle of its stop (a `chorus edge` killed there left its wrangler dev running).
const SCRIPT = `
import { untilSignal } from './support/command.ts'
// A server's sockets keep it running; this stands in for them.
setInterval(() => {}, 1000)
console.log('ready')
const signal = await untilSignal()
// A stop that takes a while: a child of its own to end, a directory to remove.
await new Promise((resolve) => setTimeout(resolve, 600))
console.log('stopped after ' + signal)
process.exit(0)
`

t.test('after the first signal, later ones are ignored until the stop is done', async (t) => {
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', SCRIPT], { cwd: new URL('../..', import.meta.url).pathname, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  child.stdout.on('data', (d: Buffer) => (out += d.toString()))
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })))
  for (let i = 0; i < 300 && !out.includes('ready'); i++) await new Promise((resolve) => setTimeout(resolve, 50))
  t.match(out, /ready/, 'the script started')
  child.kill('SIGINT')
  await new Promise((resolve) => setTimeout(resolve, 100))
  child.kill('SIGTERM')
  child.kill('SIGINT')
  t.same(await exited, { code: 0, signal: null }, 'it exits 0, not killed by the second signal')
  t.match(out, /stopped after SIGINT/, 'its stop ran to the end')
})
