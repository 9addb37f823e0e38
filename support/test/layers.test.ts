import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'

/**
 * The layer rules are dependency-cruiser's (.dependency-cruiser.cjs, `npm run lint:deps`, run by
 * `npm test`): who may import whom, faces only, cores without runtimes. What it cannot see, an
 * import graph being all it reads, is checked here: a Workers global used without an import,
 * and faces declared in package.json that point at no file.
 */
const ROOT = new URL('../../', import.meta.url).pathname

function files(dir: string): string[] {
  return readdirSync(join(ROOT, dir)).flatMap((name) => {
    const path = join(dir, name)
    if (statSync(join(ROOT, path)).isDirectory()) return files(path)
    return path.endsWith('.ts') ? [path] : []
  })
}

/** The pure cores, as .dependency-cruiser.cjs names them. */
const CORES = [
  'protocol/index.ts',
  ...files('protocol/src'),
  'tracker/core.ts',
  ...files('tracker/src/core'),
  'client-sdk/core.ts',
  ...files('client-sdk/src/core'),
  'edge/core.ts',
  ...files('edge/src/policy'),
]

/** What only a Workers runtime provides, as globals: caches, WebSocketPair, Durable Objects, bindings. */
const WORKERS_GLOBALS = /\b(caches\s*[.[]|WebSocketPair|DurableObject\w*|HTMLRewriter|ExecutionContext|R2Bucket|R2Object\w*|KVNamespace|ScheduledController)\b/

/** Code without its comments (good enough for our sources: no comment markers inside strings). */
function code(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:])\/\/.*$/gm, '$1')
}

t.test('the pure cores use no Workers global (dependency-cruiser sees imports, not globals)', async (t) => {
  const bad = CORES.flatMap((file) => {
    const hit = code(readFileSync(join(ROOT, file), 'utf8')).match(WORKERS_GLOBALS)
    return hit ? [`${file} uses ${hit[1]!.replace(/\s*[.[]$/, '')}`] : []
  })
  t.same(bad, [])
})

t.test('every face declared in package.json exports is a file', async (t) => {
  const { exports } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { exports: Record<string, string | Record<string, string>> }
  const targets = Object.values(exports).flatMap((target) => (typeof target === 'string' ? [target] : Object.values(target)))
  t.same(
    targets.filter((target) => !existsSync(join(ROOT, target))),
    [],
  )
})
