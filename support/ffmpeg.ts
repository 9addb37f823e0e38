import { access, constants } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { delimiter, join } from 'node:path'

/**
 * Where ingest finds ffmpeg, in order: `CHORUS_FFMPEG` (a path, or `none` to force the slow
 * pure-JS MP3 path), the static build shipped inside the npm package
 * `@ffmpeg-installer/linux-x64` (an optional dependency: nothing is downloaded at install time),
 * then `ffmpeg` on PATH (Debian's package, Homebrew's...). Nothing is run to find it.
 */
export async function findFfmpeg(choice?: string | false): Promise<string | undefined> {
  if (choice === false) return undefined
  if (choice !== undefined) return choice
  const fromEnv = process.env.CHORUS_FFMPEG
  if (fromEnv === 'none') return undefined
  if (fromEnv) return fromEnv
  for (const candidate of [packagedFfmpeg(), ...onPath('ffmpeg')]) {
    if (candidate && (await isExecutable(candidate))) return candidate
  }
  return undefined
}

function packagedFfmpeg(): string | undefined {
  if (process.platform !== 'linux' || process.arch !== 'x64') return undefined
  try {
    return createRequire(import.meta.url).resolve('@ffmpeg-installer/linux-x64/ffmpeg')
  } catch {
    return undefined
  }
}

function onPath(name: string): string[] {
  const file = process.platform === 'win32' ? `${name}.exe` : name
  return (process.env.PATH ?? '')
    .split(delimiter)
    .filter(Boolean)
    .map((dir) => join(dir, file))
}

async function isExecutable(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK)
    return true
  } catch {
    return false
  }
}
