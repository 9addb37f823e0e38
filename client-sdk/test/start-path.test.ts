// What a play asks for as it starts (src/core/start-path.ts), values in and out.

import t from 'tap'
import { type StartFacts, startPath } from '../src/core/start-path.js'

const cold: StartFacts = { prefetched: false, cachedManifest: false, keyHeld: false, sessionBoarding: false, fromStart: true }

t.test('a cold play asks for the head and the key at once', async (t) => {
  t.same(startPath(cold), { manifest: 'head', key: 'request' })
  t.same(startPath({ ...cold, sessionBoarding: true }), { manifest: 'head', key: 'session' }, 'a new client: the key rides in the session request')
  t.same(startPath({ ...cold, keyHeld: true, sessionBoarding: true }), { manifest: 'head', key: 'manifest' }, 'a key held is not asked again')
  t.same(startPath({ ...cold, fromStart: false }), { manifest: 'manifest', key: 'request' }, 'from elsewhere in the track: the manifest')
})

t.test('a prefetched or cached play asks nothing before it starts', async (t) => {
  t.same(startPath({ ...cold, prefetched: true, cachedManifest: true, sessionBoarding: true }), { manifest: 'prefetch', key: 'prefetch' })
  t.same(startPath({ ...cold, cachedManifest: true, sessionBoarding: true }), { manifest: 'local', key: 'manifest' }, 'the key held, its lease, or asked once the manifest is read')
  t.same(startPath({ ...cold, cachedManifest: true, fromStart: false }), { manifest: 'local', key: 'manifest' }, 'a seek into a cached track too')
})
