/**
 * The operator page: the edge's cache figures, the tracker's swarms and peers, the origin's
 * request rate, refreshed every two seconds from each part's own stats endpoint.
 */
const $ = (id: string) => document.getElementById(id) as HTMLElement

function fill(id: string, rows: Array<[string, string]>): void {
  $(id).replaceChildren(
    ...rows.map(([k, v]) => {
      const div = document.createElement('div')
      const dt = document.createElement('dt')
      const dd = document.createElement('dd')
      dt.textContent = k
      dd.textContent = v
      div.append(dt, dd)
      return div
    }),
  )
}

/** Sums the samples of one Prometheus metric, optionally only those whose labels match. */
function metric(text: string, name: string, labels?: RegExp): number {
  let sum = 0
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue
    const rest = line.slice(name.length)
    if (rest[0] !== ' ' && rest[0] !== '{') continue
    if (labels && !labels.test(rest)) continue
    sum += Number(line.slice(line.lastIndexOf(' ') + 1)) || 0
  }
  return sum
}

const pct = (x: number) => `${(100 * x).toFixed(1)} %`
let lastOrigin: { at: number; requests: number } | undefined

async function refresh(config: { tracker?: string; origin?: string }): Promise<void> {
  const problems: string[] = []
  try {
    const s = await (await fetch('/_chorus/stats')).json()
    fill('edge', [
      ['Hit ratio', pct(s.hitRatio ?? 0)],
      ['Byte hit ratio', pct(s.byteHitRatio ?? 0)],
      ['Hits in memory', String(s.hits?.memory ?? 0)],
      ['Hits in the Cache API', String(s.hits?.cache ?? 0)],
      ['Misses', String(s.misses ?? 0)],
      ['Coalesced requests', String(s.coalescedWaits ?? 0)],
      ['Integrity failures', String((s.integrityFailures?.chunk ?? 0) + (s.integrityFailures?.manifest ?? 0))],
      ['Stale responses', String(s.stale ?? 0)],
    ])
  } catch {
    problems.push('the edge does not answer')
  }
  if (config.tracker) {
    try {
      const base = config.tracker.replace(/^ws/, 'http').replace(/\/announce.*$/, '')
      const text = await (await fetch(`${base}/metrics`)).text()
      fill('tracker', [
        ['Connections', String(metric(text, 'chorus_tracker_connections'))],
        ['Swarms', String(metric(text, 'chorus_tracker_swarms'))],
        ['Peers', String(metric(text, 'chorus_tracker_peers'))],
        ['Announces / s', metric(text, 'chorus_tracker_announces_per_second').toFixed(1)],
        ['Offers relayed', String(metric(text, 'chorus_tracker_offers_relayed_total'))],
      ])
    } catch {
      problems.push('the tracker does not answer')
    }
  }
  if (config.origin) {
    try {
      const text = await (await fetch(`${config.origin}/metrics`)).text()
      const requests = metric(text, 'chorus_origin_requests_total')
      const now = performance.now()
      const rate = lastOrigin ? ((requests - lastOrigin.requests) / (now - lastOrigin.at)) * 1000 : 0
      lastOrigin = { at: now, requests }
      fill('origin', [
        ['Requests / s', rate.toFixed(1)],
        ['Requests in all', String(requests)],
        ['Chunk bytes sent', String(metric(text, 'chorus_origin_bytes_out_total', /route="chunk"/))],
        ['Tracks', String(metric(text, 'chorus_origin_catalog_tracks'))],
      ])
    } catch {
      problems.push('the origin does not answer')
    }
  }
  $('updated').textContent = problems.length ? `Problem: ${problems.join('; ')}.` : `Updated ${new Date().toLocaleTimeString()}`
}

async function main(): Promise<void> {
  const config = (await (await fetch('config.json')).json()) as { tracker?: string; origin?: string }
  await refresh(config)
  setInterval(() => void refresh(config), 2000)
}

void main()
