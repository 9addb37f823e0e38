/**
 * A one-line progress bar on a terminal (stderr), silent elsewhere so logs and pipes stay clean.
 */
export function createProgress(stream: NodeJS.WriteStream = process.stderr, enabled = stream.isTTY === true) {
  let last = ''
  let lastAt = 0
  return {
    update(label: string, fraction: number): void {
      if (!enabled) return
      const now = Date.now()
      if (now - lastAt < 80 && fraction < 1) return
      lastAt = now
      const width = 28
      const f = Math.min(1, Math.max(0, fraction))
      const filled = Math.round(f * width)
      const line = `${'█'.repeat(filled)}${'░'.repeat(width - filled)} ${String(Math.floor(f * 100)).padStart(3)}%  ${label}`
      if (line === last) return
      last = line
      stream.write(`\r\x1b[2K${line.slice(0, (stream.columns ?? 100) - 1)}`)
    },
    done(): void {
      if (enabled && last) stream.write('\r\x1b[2K')
      last = ''
    },
  }
}
