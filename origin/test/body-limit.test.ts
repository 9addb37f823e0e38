import t from 'tap'
import { streamUpload } from '../../test-support/stream-upload.js'
import { startOrigin } from '../src/server.js'
import { tempDataDir } from '../../test-support/fixtures.js'

// Issue 15: four parallel 128 MB session bodies raised the origin's RSS to 1.1 GB, because the
// body was read whole before its size was checked.
t.test('a session body over 4 KiB is refused while it is still arriving, with a 413 and a JSON body', async (t) => {
  const dataDir = await tempDataDir(t)
  const origin = await startOrigin({ dataDir, env: { CHORUS_API_KEYS: 'k' } })
  t.teardown(() => origin.close())
  const answers = await Promise.all(Array.from({ length: 4 }, () => streamUpload(`${origin.url}/v1/session`, 128 * 1024 * 1024)))
  for (const a of answers) {
    t.equal(a.status, 413)
    t.match(JSON.parse(a.body), { error: { code: 'payload_too_large' } })
    t.ok(a.sentBeforeAnswer < 16 * 1024 * 1024, `answered after ${(a.sentBeforeAnswer / 1e6).toFixed(1)} MB of 128 MB`)
  }
  const ok = await fetch(`${origin.url}/v1/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ apiKey: 'k' }) })
  t.equal(ok.status, 200, 'a normal session request still works')
})
