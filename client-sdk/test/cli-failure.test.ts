// Issue 15, finding 8: `chorus play` ended with an unhandled rejection when playback failed, and
// left temporary cache files behind. Here the edge (a proxy in front of the real one) fails in
// the middle of the track: the command must exit non-zero with one line of error, and leave
// neither temporary files nor a partial chunk in its cache.

import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { runChorus } from '../../test-support/fixtures.js'
import { startHostileEdge } from './hostile-edge.js'
import { API_KEY, startStack } from './stack.js'

async function tree(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => [])).filter((e) => e.isFile()).map((e) => join(e.parentPath ?? '', e.name))
}

t.test('chorus play: a playback that fails exits 1 with one line and leaves no temporary file', async (t) => {
  const stack = await startStack(
    t,
    [
      { trackId: 'song', seconds: 30 },
      { trackId: 'dead', seconds: 4 },
    ],
    { bitrates: [96] },
  )
  const chunks = (await stack.manifest('song')).qualities[0]!.chunkCount
  const dir = await mkdtemp(join(tmpdir(), 'chorus-play-fail-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const edge = await startHostileEdge(t, stack.edge.url)
  // Chunks of 'song' past the first third are answered with a server error: the head plays, then
  // nothing comes. No chunk of 'dead' comes at all: it fails before its first audio.
  const cut = Math.floor(chunks / 3)
  edge.forge = (path) => {
    const m = /^\/v1\/chunks\/(song|dead)\/[^/]+\/96\/(\d+)$/.exec(path)
    return m && (m[1] === 'dead' || Number(m[2]) >= cut) ? { status: 503, body: JSON.stringify({ error: { code: 'origin_unavailable', message: 'down' } }) } : undefined
  }
  const cache = join(dir, 'cache')
  const common = ['--edge', edge.url, '--keys', stack.origin.url, '--tracker', stack.trackerUrl, '--api-key', API_KEY, `--public-key=${stack.publicKey}`, '--cache', cache]

  // With peers (the tracker socket holds the process) and without (nothing but the playback does).
  const cases = [
    ['song', 'song.m4a', []],
    ['song', 'song.wav', []],
    ['song', 'again.m4a', ['--no-p2p']],
    ['dead', 'dead.m4a', ['--no-p2p']],
  ] as const
  for (const [track, out, p2p] of cases) {
    const run = await runChorus(['play', track, ...common, ...p2p, '--speed', '0', '--out', join(dir, out)])
    t.equal(run.code, 1, `${out} ${p2p.join(' ')}: exit code 1`)
    const errors = run.stderr
      .trim()
      .split('\n')
      .filter((l) => !l.startsWith('playing '))
    t.equal(errors.length, 1, `${out}: one line of error (${run.stderr.trim()})`)
    t.match(errors[0], /^chorus play: all_sources_down: chunk \d+/, `${out}: the typed error`)
    t.notMatch(run.stderr, /nhandled|\n\s+at /, `${out}: no unhandled rejection, no stack`)
  }
  const files = await tree(cache)
  t.same(
    files.filter((f) => f.includes('.tmp-')),
    [],
    'no temporary file in the cache',
  )
  t.ok(files.filter((f) => f.includes(`${join('c', 'song')}`)).length <= cut, 'the cache holds only chunks that arrived whole')
  t.same(
    (await readdir(dir)).filter((f) => f !== 'cache'),
    [],
    'no output file left from a failed play (no partial stream, no WAV)',
  )
})
