/**
 * The operator page: the edge's cache figures, the tracker's swarms and peers, the origin's
 * request rate, refreshed every two seconds from each part's own stats endpoint.
 *
 * Those endpoints answer only to `Authorization: Bearer <operator token>` when the servers have
 * one. The token comes from the URL's fragment (`#operator=TOKEN`, which browsers never send to
 * a server, and which the page then takes out of the address bar and history) or from the form,
 * and is kept in sessionStorage: this tab only, gone when it closes.
 */
const $ = (id: string) => document.getElementById(id) as HTMLElement
const TOKEN_KEY = 'chorus-operator-token'
let token: string | undefined

/** The token a fragment like `#operator=TOKEN` carries (URL-decoded), if any. */
function tokenFromFragment(hash: string): string | undefined {
  const value = new URLSearchParams(hash.replace(/^#/, '')).get('operator')?.trim()
  return value ? value : undefined
}

function keepToken(value: string | undefined): void {
  token = value
  try {
    if (value) sessionStorage.setItem(TOKEN_KEY, value)
    else sessionStorage.removeItem(TOKEN_KEY)
  } catch {}
}

function takeToken(): void {
  const fromUrl = tokenFromFragment(location.hash)
  if (fromUrl) {
    keepToken(fromUrl)
    // Out of the address bar and the history: a screenshot or a shared link does not carry it.
    history.replaceState(null, '', location.pathname + location.search)
    return
  }
  try {
    token = sessionStorage.getItem(TOKEN_KEY) ?? undefined
  } catch {}
}

/** An endpoint refused the request for want of the operator token (or a wrong one). */
class Refused extends Error {
  constructor(readonly status: number) {
    super(`HTTP ${status}`)
  }
}

/** GET with the token in a header (never in the URL); 401/403 become Refused. */
async function get(url: string): Promise<Response> {
  const res = await fetch(url, { cache: 'no-store', ...(token && { headers: { authorization: `Bearer ${token}` } }) })
  if (res.status === 401 || res.status === 403) throw new Refused(res.status)
  if (!res.ok) throw new Error(`HTTP ${res.status}`)
  return res
}

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
  const refused: string[] = []
  const failed = (part: string, id: string, err: unknown) => {
    if (!(err instanceof Refused)) return void problems.push(`the ${part} does not answer`)
    refused.push(`the ${part} (${err.status})`)
    // Figures from before are not left on show as if they were current.
    fill(id, [['Not allowed', token ? 'the token was refused' : 'needs the operator token']])
  }
  try {
    const s = await (await get('/_chorus/stats')).json()
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
  } catch (err) {
    failed('edge', 'edge', err)
  }
  if (config.tracker) {
    try {
      const base = config.tracker.replace(/^ws/, 'http').replace(/\/announce.*$/, '')
      const text = await (await get(`${base}/metrics`)).text()
      fill('tracker', [
        ['Connections', String(metric(text, 'chorus_tracker_connections'))],
        ['Swarms', String(metric(text, 'chorus_tracker_swarms'))],
        ['Peers', String(metric(text, 'chorus_tracker_peers'))],
        ['Announces / s', metric(text, 'chorus_tracker_announces_per_second').toFixed(1)],
        ['Offers relayed', String(metric(text, 'chorus_tracker_offers_relayed_total'))],
      ])
    } catch (err) {
      failed('tracker', 'tracker', err)
    }
  }
  if (config.origin) {
    try {
      const text = await (await get(`${config.origin}/metrics`)).text()
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
    } catch (err) {
      failed('origin', 'origin', err)
    }
  }
  const lines: string[] = []
  if (refused.length) {
    lines.push(
      token
        ? `Not allowed: ${refused.join(', ')} refused this operator token. Check it (it changes each time \`chorus start\` runs) and enter it again above.`
        : `Not allowed: ${refused.join(', ')} answer only to the operator token. Enter it above, or open the operator link \`chorus start\` printed.`,
    )
  }
  if (problems.length) lines.push(`Problem: ${problems.join('; ')}.`)
  const status = $('updated')
  status.textContent = lines.length ? lines.join(' ') : `Updated ${new Date().toLocaleTimeString()}`
  status.dataset.refused = String(refused.length > 0)
}

async function main(): Promise<void> {
  takeToken()
  const config = (await (await fetch('config.json')).json()) as { tracker?: string; origin?: string }
  const input = $('token') as HTMLInputElement
  $('token-form').addEventListener('submit', (e) => {
    e.preventDefault()
    keepToken(input.value.trim() || undefined)
    input.value = ''
    void refresh(config)
  })
  $('forget').addEventListener('click', () => {
    keepToken(undefined)
    void refresh(config)
  })
  // A fragment set later (a pasted link in this tab) is taken too.
  window.addEventListener('hashchange', () => {
    takeToken()
    void refresh(config)
  })
  await refresh(config)
  setInterval(() => void refresh(config), 2000)
}

void main()
