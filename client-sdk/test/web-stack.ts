import type { ChildProcess } from 'node:child_process'
import { type Browser, type BrowserContext, type LaunchOptions, chromium } from 'playwright-core'
import type { Test } from 'tap'
import { startChorusStack } from '../../test-support/chorus.js'
import type { PlayerConfig } from '../player/build.js'
import { CHROMIUM } from '../../test-support/chromium.js'

/** What the web player tests share: a `chorus start` stack and the page's own config. */

/** `chorus start` on free ports over a catalog (`extra`: more of its flags); resolves with its JSON ready line; stopped (SIGTERM) when the test ends. */
export async function startStack(t: Test, dataDir: string, extra: string[] = []): Promise<{ child: ChildProcess; urls: Record<string, string> }> {
  const stack = await startChorusStack(t, dataDir, extra)
  return { child: stack.child, urls: stack.readyValue as Record<string, string> }
}

/**
 * `startStack` and a Chromium launched side by side (each takes seconds); the browser is closed
 * when the test ends, whichever of the two failed.
 */
export async function startStackAndBrowser(t: Test, dataDir: string, launch: LaunchOptions, extra: string[] = []): Promise<{ stack: Awaited<ReturnType<typeof startStack>>; browser: Browser }> {
  const [stack, browser] = await Promise.allSettled([startStack(t, dataDir, extra), chromium.launch({ executablePath: CHROMIUM, ...launch })])
  if (browser.status === 'fulfilled') t.teardown(() => browser.value.close())
  if (stack.status === 'rejected') throw stack.reason
  if (browser.status === 'rejected') throw browser.reason
  return { stack: stack.value, browser: browser.value }
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
