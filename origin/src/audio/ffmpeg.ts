import { spawn } from 'node:child_process'
import { findFfmpeg } from '../../../support/ffmpeg.js'

// Where ffmpeg is found lives in support/ (the SDK's renderer and the benchmarks look for it too).
export { findFfmpeg }

export interface FfmpegRun {
  stdout: Buffer
  /** The last of what it said (at most 8 KiB): the reason, when it fails. */
  stderr: string
  code: number | null
}

/**
 * Runs ffmpeg to its end: `input` (if any) goes to stdin in pieces, with `onFed` told how many
 * bytes went in so far (the encoder reads at its own pace, so this is its progress); stdout is
 * collected. Rejects with `failure` only when ffmpeg cannot be started, and with the signal's
 * reason on abort; a non-zero exit resolves, for the caller to word.
 */
export function runFfmpeg(
  ffmpeg: string,
  args: string[],
  options: { input?: Buffer; onFed?: (bytes: number) => void; signal?: AbortSignal; failure: (message: string, cause: unknown) => Error },
): Promise<FfmpegRun> {
  const { input, signal } = options
  return new Promise((resolve, reject) => {
    const child = spawn(ffmpeg, ['-hide_banner', '-loglevel', 'error', ...(input ? [] : ['-nostdin']), ...args], { stdio: [input ? 'pipe' : 'ignore', 'pipe', 'pipe'], ...(signal && { signal }) })
    const out: Buffer[] = []
    let err = ''
    child.stdout!.on('data', (d: Buffer) => out.push(d))
    child.stderr!.on('data', (d: Buffer) => {
      err = (err + d.toString()).slice(-8192)
    })
    child.on('error', (e) => reject(signal?.aborted ? signal.reason : options.failure(`could not run ffmpeg (${ffmpeg}): ${e.message}`, e)))
    child.on('close', (code) => {
      if (signal?.aborted) reject(signal.reason)
      else resolve({ stdout: Buffer.concat(out), stderr: err, code })
    })
    if (!input || !child.stdin) return
    // An early exit closes stdin under us: 'close' above says why.
    const stdin = child.stdin
    stdin.on('error', () => undefined)
    const piece = 256 * 1024
    let at = 0
    const write = (): void => {
      while (at < input.length) {
        const end = Math.min(input.length, at + piece)
        const ok = stdin.write(input.subarray(at, end))
        at = end
        options.onFed?.(at)
        if (!ok) return void stdin.once('drain', write)
      }
      stdin.end()
    }
    write()
  })
}

/** The last lines of what ffmpeg said, for an error message. */
export function ffmpegReason(run: FfmpegRun): string {
  return run.stderr.trim().split('\n').slice(-3).join(' / ') || `exit code ${run.code}`
}
