// Layer rules as code (issue 12), run by `npm run lint:deps` from `npm test`.
// Folders: the parts (protocol, origin, edge, tracker, client-sdk), stack/, bench/, cli/,
// support/ (leaf helpers) and test-support/ (helpers for tests only). A part shows its faces
// (the files declared in package.json `exports`); every other file of it is its own business.

/** The faces: what one folder may import of another part, read from package.json `exports`. */
const FACES = [...new Set(Object.values(require('./package.json').exports).flatMap((target) => (typeof target === 'string' ? [target] : Object.values(target))))].map(
  (file) => `^${file.slice(2).replace(/\./g, '\\.')}$`,
)
const PARTS = '^(protocol|origin|edge|tracker|client-sdk|stack)/'
/** The pure cores: values in, values out, no runtime. */
const CORES = ['^protocol/(index\\.ts$|src/)', '^tracker/(core\\.ts$|src/core/)', '^client-sdk/(core\\.ts$|src/core/)', '^edge/(core\\.ts$|src/policy/)']
/** What a core must not reach: sockets, HTTP servers, the file system, Worker runtimes. */
const RUNTIMES = ['^(node:)?(net|http|https|http2|tls|dgram|fs|fs/promises|child_process)$', '^cloudflare:', 'node_modules/(ws|hono|@hono/[^/]+|miniflare|wrangler|@cloudflare/[^/]+)/']

module.exports = {
  forbidden: [
    {
      name: 'protocol-imports-no-part',
      comment: 'protocol/ is the wire formats every part shares: it imports no other folder of ours.',
      severity: 'error',
      from: { path: '^protocol/', pathNot: '^protocol/test/' },
      to: { path: '^(origin|edge|tracker|client-sdk|stack|support|test-support|bench|cli)/' },
    },
    {
      name: 'core-imports-no-runtime',
      comment: 'A pure core (protocol, tracker core, SDK core, edge policies) reaches no ws, hono, node:net/http/fs, nor a Workers runtime module, directly or through another file.',
      severity: 'error',
      from: { path: CORES },
      to: { path: RUNTIMES, reachable: true },
    },
    {
      name: 'core-imports-only-core',
      comment: 'A core folder imports only itself and protocol: an adapter it imported could bring a runtime along later.',
      severity: 'error',
      from: { path: '^(tracker/src/core|client-sdk/src/core|edge/src/policy)/' },
      to: { dependencyTypes: ['local'], pathNot: ['^$1/', '^protocol/index\\.ts$'] },
    },
    {
      name: 'edge-never-imports-origin',
      comment: 'The edge talks to the origin over HTTP only.',
      severity: 'error',
      from: { path: '^edge/' },
      to: { path: '^origin/' },
    },
    {
      name: 'nothing-imports-bench',
      comment: "Only the dispatcher's lazy registry (cli/main.ts -> bench/src/cli.ts) reaches the benchmarks.",
      severity: 'error',
      from: { pathNot: '^bench/' },
      to: { path: '^bench/', pathNot: '^bench/src/cli\\.ts$' },
    },
    {
      name: 'only-the-dispatcher-imports-bench',
      comment: 'bench/src/cli.ts is the registry cli/main.ts lists; no other file outside bench/ imports it.',
      severity: 'error',
      from: { path: '^', pathNot: ['^bench/', '^cli/main\\.ts$'] },
      to: { path: '^bench/src/cli\\.ts$' },
    },
    {
      name: 'only-through-faces',
      comment: "One part imports another only through that part's face (index.ts, core.ts: package.json exports), never its src/.",
      severity: 'error',
      from: { path: '^([^/]+)/' },
      to: { path: PARTS, pathNot: ['^$1/', '^[^/]+/test/', ...FACES] },
    },
    {
      name: 'no-other-parts-tests',
      comment: "No folder imports another's tests or test helpers; what tests share is in test-support/.",
      severity: 'error',
      from: { path: '^([^/]+)/' },
      to: { path: '^[^/]+/test/', pathNot: '^$1/' },
    },
    {
      name: 'support-is-a-leaf',
      comment: 'support/ imports nothing of ours, so anyone may import it without making a cycle.',
      severity: 'error',
      from: { path: '^support/' },
      to: { path: '^(protocol|origin|edge|tracker|client-sdk|stack|test-support|bench|cli)/' },
    },
    {
      name: 'test-support-only-faces',
      comment: 'test-support/ uses the parts as their users do: through faces (checked by only-through-faces), and no cli/ nor bench/.',
      severity: 'error',
      from: { path: '^test-support/' },
      to: { path: '^(cli|bench)/' },
    },
    {
      name: 'cli-only-faces-and-support',
      comment: 'cli/ only dispatches: it imports faces, support/ and the bench registry, never test helpers.',
      severity: 'error',
      from: { path: '^cli/' },
      to: { path: '^test-support/' },
    },
    {
      name: 'only-the-dispatcher-imports-cli',
      comment: 'No part, benchmark or stack imports cli/ (bin/chorus.js starts it).',
      severity: 'error',
      from: { pathNot: '^(cli|bin)/' },
      to: { path: '^cli/' },
    },
    {
      name: 'no-test-helpers-in-code',
      comment: 'test-support/ is test code: no part source, stack or benchmark (outside its tests) imports it.',
      severity: 'error',
      from: { path: '^(protocol|origin|edge|tracker|client-sdk|stack|bench|cli|support)/', pathNot: '/test/' },
      to: { path: '^test-support/' },
    },
    {
      name: 'not-to-unresolvable',
      comment: 'An import of ours that resolves to no file is a typo the rules above would not see.',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true, pathNot: '^cloudflare:' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // Build output and results of ours; not node_modules' own dist/ folders (hono, tap live there).
    exclude: { path: ['^client-sdk/player/dist/', '\\.wrangler/', '^bench/results/'] },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
    },
  },
}
