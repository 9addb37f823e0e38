/** A hand-rolled SVG line chart on a log x axis (listeners), one panel per figure. */
interface SimSeries {
  label: string
  color: string
  dashed?: boolean
  points: Array<[number, number]>
}

export interface SimPanel {
  title: string
  yLabel: string
  yFormat: (v: number) => string
  series: SimSeries[]
  /** Reference levels drawn across the panel (a target, Spotify's figure). */
  references?: Array<{ label: string; y: number; color: string }>
  /** Force the y axis to start at 0 and end at least here. */
  yMax?: number
}

const PW = 470
const PH = 340
const M = { left: 66, right: 14, top: 58, bottom: 46 }
const esc = (t: string) => t.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')

function niceStep(raw: number): number {
  if (!(raw > 0)) return 1
  const p = 10 ** Math.floor(Math.log10(raw))
  for (const k of [1, 2, 2.5, 5, 10]) if (raw <= k * p) return k * p
  return 10 * p
}

const fmtCount = (n: number) => (n >= 1e6 ? `${n / 1e6}M` : n >= 1e3 ? `${n / 1e3}k` : String(n))

function panel(p: SimPanel, x0: number): string[] {
  const out: string[] = []
  const plotW = PW - M.left - M.right
  const plotH = PH - M.top - M.bottom
  const xs = p.series.flatMap((s) => s.points.map(([x]) => x))
  const lo = Math.floor(Math.log10(Math.min(...xs)))
  const hi = Math.max(lo + 1, Math.ceil(Math.log10(Math.max(...xs))))
  const ys = [...p.series.flatMap((s) => s.points.map(([, y]) => y)), ...(p.references ?? []).map((r) => r.y)].filter(Number.isFinite)
  const step = niceStep(Math.max(p.yMax ?? 0, ...ys) / 5)
  const yMax = Math.max(step, Math.ceil(Math.max(p.yMax ?? 0, ...ys) / step) * step)
  const sx = (x: number) => x0 + M.left + ((Math.log10(x) - lo) / (hi - lo)) * plotW
  const sy = (y: number) => M.top + plotH - (y / yMax) * plotH
  out.push(`<text x="${x0 + M.left + plotW / 2}" y="${M.top - 12}" text-anchor="middle" font-weight="bold">${esc(p.title)}</text>`)
  for (let y = 0; y <= yMax + 1e-9; y += step) {
    out.push(`<line x1="${x0 + M.left}" x2="${x0 + M.left + plotW}" y1="${sy(y).toFixed(1)}" y2="${sy(y).toFixed(1)}" stroke="#e4e4e4"/>`)
    out.push(`<text x="${x0 + M.left - 6}" y="${sy(y).toFixed(1)}" text-anchor="end" dominant-baseline="middle">${esc(p.yFormat(y))}</text>`)
  }
  for (let e = lo; e <= hi; e++) {
    const x = sx(10 ** e).toFixed(1)
    out.push(`<line x1="${x}" x2="${x}" y1="${M.top}" y2="${M.top + plotH}" stroke="#e4e4e4"/>`)
    out.push(`<text x="${x}" y="${M.top + plotH + 16}" text-anchor="middle">${fmtCount(10 ** e)}</text>`)
  }
  out.push(`<rect x="${x0 + M.left}" y="${M.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#888"/>`)
  out.push(`<text x="${x0 + M.left + plotW / 2}" y="${PH - 8}" text-anchor="middle">listeners (log scale)</text>`)
  out.push(`<text transform="translate(${x0 + 14} ${M.top + plotH / 2}) rotate(-90)" text-anchor="middle">${esc(p.yLabel)}</text>`)
  for (const r of p.references ?? []) {
    out.push(`<line x1="${x0 + M.left}" x2="${x0 + M.left + plotW}" y1="${sy(r.y).toFixed(1)}" y2="${sy(r.y).toFixed(1)}" stroke="${r.color}" stroke-dasharray="2 3"/>`)
    out.push(`<text x="${x0 + M.left + plotW - 4}" y="${(sy(r.y) - 4).toFixed(1)}" text-anchor="end" font-size="10" fill="${r.color}">${esc(r.label)}</text>`)
  }
  for (const s of p.series) {
    const pts = s.points.filter(([, y]) => Number.isFinite(y)).map(([x, y]) => `${sx(x).toFixed(1)},${sy(y).toFixed(1)}`)
    if (pts.length === 0) continue
    out.push(`<polyline data-series="${esc(s.label)}" points="${pts.join(' ')}" fill="none" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`)
    for (const pt of pts) {
      const [cx, cy] = pt.split(',')
      out.push(`<circle cx="${cx}" cy="${cy}" r="3" fill="${s.color}"/>`)
    }
  }
  const legendY = PH + 6
  for (const [i, s] of p.series.slice(0, 6).entries()) {
    const y = legendY + i * 16
    out.push(`<line x1="${x0 + M.left}" x2="${x0 + M.left + 24}" y1="${y}" y2="${y}" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`)
    out.push(`<text x="${x0 + M.left + 30}" y="${y}" dominant-baseline="middle">${esc(s.label)}</text>`)
  }
  return out
}

export function simChart(title: string, panels: SimPanel[]): string {
  const width = PW * panels.length
  const legendRows = Math.max(...panels.map((p) => Math.min(6, p.series.length)))
  const height = PH + 16 + legendRows * 16
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${width / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${esc(title)}</text>`,
    ...panels.flatMap((p, i) => panel(p, i * PW)),
    '</svg>',
    '',
  ].join('\n')
}
