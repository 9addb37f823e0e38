/**
 * The [vars] of a wrangler config file, read by wrangler's own reader so that `chorus edge
 * --check` sees exactly what `wrangler dev` and `wrangler deploy` will. Node only (the CLI).
 */
export const DEFAULT_WRANGLER_CONFIG = new URL('../../wrangler.toml', import.meta.url).pathname

export async function readWranglerVars(configPath: string = DEFAULT_WRANGLER_CONFIG): Promise<Record<string, unknown>> {
  const wrangler = (await import('wrangler')) as unknown as {
    experimental_readRawConfig(args: { config?: string }): { rawConfig: { vars?: Record<string, unknown> }; configPath?: string }
  }
  const { rawConfig, configPath: found } = wrangler.experimental_readRawConfig({ config: configPath })
  if (!found) throw new Error(`no wrangler config at ${configPath}`)
  return { ...(rawConfig.vars ?? {}) }
}

/**
 * The static-assets directory the config names (the web player), resolved against the config's
 * folder. `wrangler dev` refuses to start when it is missing, and on a fresh clone it has not
 * been built yet: the CLI creates it empty so the edge starts, and the pages appear once built.
 */
export async function readWranglerAssetsDir(configPath: string = DEFAULT_WRANGLER_CONFIG): Promise<string | undefined> {
  const wrangler = (await import('wrangler')) as unknown as {
    experimental_readRawConfig(args: { config?: string }): { rawConfig: { assets?: { directory?: string } }; configPath?: string }
  }
  const { rawConfig, configPath: found } = wrangler.experimental_readRawConfig({ config: configPath })
  const dir = rawConfig.assets?.directory
  if (!found || !dir) return undefined
  const { dirname, resolve } = await import('node:path')
  return resolve(dirname(found), dir)
}
