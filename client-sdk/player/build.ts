import { copyFile, mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { build } from 'esbuild'

/**
 * Builds the web player and the operator page into a directory the edge serves as static
 * assets: the SDK's browser build bundled by esbuild (the "browser" export condition), the HTML
 * and CSS copied, and config.json with what the page cannot know by itself (the tracker's and
 * the origin's addresses, the API key, the origin's public key).
 */
export const PLAYER_DIR = new URL('.', import.meta.url).pathname
export const PLAYER_DIST = join(PLAYER_DIR, 'dist')

export interface PlayerConfig {
  tracker?: string
  /** The key service (the origin): sessions and track keys never go through the edge. */
  origin: string
  apiKey: string
  publicKey?: string
  p2p?: boolean
  /** WebRTC servers for the page; a turn:/turns: URL among them lets listeners pick relay-only. */
  iceServers?: RTCIceServer[]
}

export async function buildPlayer(config: PlayerConfig, outDir: string = PLAYER_DIST): Promise<string> {
  await mkdir(outDir, { recursive: true })
  await build({
    entryPoints: { player: join(PLAYER_DIR, 'player.ts'), operator: join(PLAYER_DIR, 'operator.ts') },
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    conditions: ['browser'],
    outdir: outDir,
    sourcemap: true,
    logLevel: 'silent',
    // simple-peer's browser bundle reads `global`; nothing else from Node reaches the page.
    define: { global: 'globalThis' },
  })
  for (const f of ['index.html', 'operator.html', 'style.css']) await copyFile(join(PLAYER_DIR, f), join(outDir, f))
  await writeFile(join(outDir, 'config.json'), JSON.stringify(config))
  return outDir
}
