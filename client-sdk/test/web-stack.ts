import type { ChildProcess } from 'node:child_process'
import type { BrowserContext } from 'playwright-core'
import type { Test } from 'tap'
import { startChorusStack } from '../../test-support/chorus.js'
import type { PlayerConfig } from '../player/build.js'

/** What the web player tests share: a `chorus start` stack and the page's own config. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

/** `chorus start` on free ports over a catalog; resolves with its JSON ready line; stopped (SIGTERM) when the test ends. */
export async function startStack(t: Test, dataDir: string): Promise<{ child: ChildProcess; urls: Record<string, string> }> {
  const stack = await startChorusStack(t, dataDir)
  return { child: stack.child, urls: stack.readyValue as Record<string, string> }
}

/**
 * This stack's config.json, given to the browser in place of the one in client-sdk/player/dist:
 * every stack started from this checkout builds the page there (wrangler's [assets]), so another
 * test's `chorus start` may rewrite it, with its own tracker and key, while this one runs.
 */
export function ownConfig(config: PlayerConfig): (context: BrowserContext) => Promise<void> {
  return async (context) => {
    await context.route(
      (url) => url.pathname === '/config.json',
      (route) => route.fulfill({ json: config }),
    )
  }
}
