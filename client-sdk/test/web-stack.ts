import { type ChildProcess, spawn } from 'node:child_process'
import type { BrowserContext } from 'playwright-core'
import { CHORUS } from '../../origin/test/fixtures.js'
import type { PlayerConfig } from '../player/build.js'

/** What the web player tests share: a `chorus start` stack and the page's own config. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

/** `chorus start` on free ports over a catalog; resolves with its JSON ready line. */
export function startStack(dataDir: string): Promise<{ child: ChildProcess; urls: Record<string, string> }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHORUS, 'start', '--data', dataDir, '--json', '--origin-port', '0', '--tracker-port', '0', '--edge-port', '0'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, WRANGLER_SEND_METRICS: 'false' } })
    let out = ''
    let err = ''
    child.stderr!.on('data', (d) => (err += d))
    child.stdout!.on('data', (d) => {
      out += d
      const line = out.split('\n').find((l) => l.startsWith('{"ready"'))
      if (line) resolve({ child, urls: JSON.parse(line) })
    })
    child.on('exit', (code) => reject(new Error(`chorus start exited (${code}): ${err.slice(-1000)}`)))
  })
}

/**
 * This stack's config.json, given to the browser in place of the one in client-sdk/player/dist:
 * every stack started from this checkout builds the page there (wrangler's [assets]), so another
 * test's `chorus start` may rewrite it, with its own tracker and key, while this one runs.
 */
export function ownConfig(config: PlayerConfig): (context: BrowserContext) => Promise<void> {
  return async (context) => {
    await context.route((url) => url.pathname === '/config.json', (route) => route.fulfill({ json: config }))
  }
}
