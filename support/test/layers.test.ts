import { readFileSync, readdirSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import t from 'tap'

/**
 * The layering that keeps support/ a leaf and cli/ a dispatcher, as code: who may import whom.
 * Imports are read from the source text (static `from '...'` and dynamic `import('...')`).
 */
const ROOT = new URL('../../', import.meta.url).pathname

function files(dir: string): string[] {
  return readdirSync(join(ROOT, dir)).flatMap((name) => {
    const path = join(dir, name)
    if (name === 'node_modules' || name === 'dist' || name.startsWith('.')) return []
    if (statSync(join(ROOT, path)).isDirectory()) return files(path)
    return path.endsWith('.ts') ? [path] : []
  })
}

/** The repository paths a file imports (relative specifiers only, resolved from the root). */
function imports(file: string): string[] {
  const text = readFileSync(join(ROOT, file), 'utf8')
  const specs = [...text.matchAll(/(?:from\s+|import\s*\(\s*)'(\.{1,2}\/[^']+)'/g)].map((m) => m[1]!)
  return specs.map((s) => relative(ROOT, join(ROOT, file, '..', s)))
}

const within = (path: string, dir: string) => path === dir || path.startsWith(`${dir}/`)

/** `file imports target` for every import that `forbidden` says no to. */
function offenders(list: string[], forbidden: (target: string) => boolean): string[] {
  return list.flatMap((file) => imports(file).filter(forbidden).map((target) => `${file} imports ${target}`))
}

t.test('support/ is a leaf: it imports nothing but itself and Node', async (t) => {
  const bad = offenders(files('support').filter((f) => !within(f, 'support/test')), (target) => !within(target, 'support'))
  t.same(bad, [])
})

t.test('only the dispatcher imports cli/: no part, no benchmark, no stack', async (t) => {
  const all = ['protocol', 'origin', 'edge', 'tracker', 'client-sdk', 'bench', 'stack', 'support', 'test-support'].flatMap(files)
  t.same(offenders(all, (target) => within(target, 'cli')), [])
})

t.test('the benchmarks use no test helpers: what they share with the tests is in support/', async (t) => {
  t.same(offenders(files('bench').filter((f) => !within(f, 'bench/test')), (target) => within(target, 'test-support')), [])
})
