/**
 * What must go away if the run is interrupted: servers, proxies, workerd, temporary
 * directories. Each owner registers its own teardown and unregisters it once done; a SIGINT or
 * SIGTERM runs whatever is still registered, newest first, before the process exits.
 */
const pending = new Set<() => Promise<void>>()
let installed = false

async function onSignal(signal: NodeJS.Signals): Promise<void> {
  process.stderr.write(`\n${signal}: cleaning up\n`)
  const timer = setTimeout(() => process.exit(130), 10_000)
  for (const fn of [...pending].reverse()) await fn().catch(() => {})
  clearTimeout(timer)
  process.exit(130)
}

/** Registers `fn` to run on an interrupt; returns its unregistration. */
export function onInterrupt(fn: () => Promise<void>): () => void {
  if (!installed) {
    installed = true
    process.once('SIGINT', (s) => void onSignal(s))
    process.once('SIGTERM', (s) => void onSignal(s))
  }
  pending.add(fn)
  return () => pending.delete(fn)
}
