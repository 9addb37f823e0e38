/** A hand-rolled SVG line chart: miss ratio against cache size, one panel per workload (and metric). */

export interface Series {
  readonly label: string
  readonly values: ReadonlyArray<number | null>
  readonly color: string
  readonly dashed?: boolean
  readonly width?: number
}

export interface Panel {
  readonly title: string
  /** Cache sizes as fractions of the working set; plotted on a log axis. */
  readonly fractions: readonly number[]
  readonly series: readonly Series[]
  /** The y axis' name; "miss ratio" by default. */
  readonly yLabel?: string
}

const PANEL_W = 470
const PANEL_H = 340
const M = { left: 58, right: 14, top: 34, bottom: 46 }

function esc(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')
}

function pct(fraction: number): string {
  const p = fraction * 100
  return `${p >= 1 ? p.toFixed(0) : p.toPrecision(1)}%`
}

function panel(p: Panel, x0: number): string {
  const plotW = PANEL_W - M.left - M.right
  const plotH = PANEL_H - M.top - M.bottom
  const logs = p.fractions.map((f) => Math.log10(f))
  const minX = Math.min(...logs)
  const maxX = Math.max(...logs)
  const all = p.series.flatMap((s) => s.values.filter((v): v is number => v !== null))
  const yMax = Math.min(1, Math.max(0.1, Math.ceil(Math.max(0, ...all) * 10) / 10))
  const sx = (f: number): number => x0 + M.left + (maxX === minX ? plotW / 2 : ((Math.log10(f) - minX) / (maxX - minX)) * plotW)
  const sy = (v: number): number => M.top + plotH - (v / yMax) * plotH
  const out: string[] = []
  out.push(`<text x="${x0 + M.left + plotW / 2}" y="20" text-anchor="middle" font-weight="bold">${esc(p.title)}</text>`)
  const step = yMax > 0.5 ? 0.1 : 0.05
  for (let v = 0; v <= yMax + 1e-9; v += step) {
    const y = sy(v).toFixed(1)
    out.push(`<line x1="${x0 + M.left}" x2="${x0 + M.left + plotW}" y1="${y}" y2="${y}" stroke="#ddd"/>`)
    out.push(`<text x="${x0 + M.left - 6}" y="${y}" text-anchor="end" dominant-baseline="middle" font-size="11">${(v * 100).toFixed(0)}%</text>`)
  }
  for (const f of p.fractions) {
    const x = sx(f).toFixed(1)
    out.push(`<line x1="${x}" x2="${x}" y1="${M.top}" y2="${M.top + plotH}" stroke="#eee"/>`)
    out.push(`<text x="${x}" y="${M.top + plotH + 16}" text-anchor="middle" font-size="11">${pct(f)}</text>`)
  }
  out.push(`<rect x="${x0 + M.left}" y="${M.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#888"/>`)
  out.push(`<text x="${x0 + M.left + plotW / 2}" y="${PANEL_H - 8}" text-anchor="middle" font-size="12">cache size, % of working set (log scale)</text>`)
  out.push(`<text transform="translate(${x0 + 14} ${M.top + plotH / 2}) rotate(-90)" text-anchor="middle" font-size="12">${esc(p.yLabel ?? 'miss ratio')}</text>`)
  for (const s of p.series) {
    const points = p.fractions
      .map((f, i) => [f, s.values[i]] as const)
      .filter((pair): pair is readonly [number, number] => pair[1] !== null && pair[1] !== undefined)
      .map(([f, v]) => `${sx(f).toFixed(1)},${sy(v).toFixed(1)}`)
    if (points.length === 0) continue
    const dash = s.dashed === true ? ' stroke-dasharray="6 4"' : ''
    out.push(`<polyline data-series="${esc(s.label)}" points="${points.join(' ')}" fill="none" stroke="${s.color}" stroke-width="${s.width ?? 2}"${dash}/>`)
    for (const point of points) {
      const [cx, cy] = point.split(',')
      out.push(`<circle cx="${cx}" cy="${cy}" r="2.5" fill="${s.color}"/>`)
    }
  }
  return out.join('\n')
}

export function renderChart(title: string, panels: readonly Panel[]): string {
  const width = PANEL_W * Math.max(1, panels.length)
  const legendItems = panels[0]?.series ?? []
  const perRow = 4
  const legendH = 24 * Math.ceil(legendItems.length / perRow) + 10
  const height = 30 + PANEL_H + legendH
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="13">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${width / 2}" y="20" text-anchor="middle" font-size="15" font-weight="bold">${esc(title)}</text>`,
    '<g transform="translate(0 30)">',
  ]
  panels.forEach((p, i) => {
    parts.push(panel(p, i * PANEL_W))
  })
  parts.push('</g>')
  legendItems.forEach((s, i) => {
    const x = 70 + (i % perRow) * ((width - 100) / perRow)
    const y = 30 + PANEL_H + 16 + Math.floor(i / perRow) * 24
    const dash = s.dashed === true ? ' stroke-dasharray="6 4"' : ''
    parts.push(`<line x1="${x}" x2="${x + 30}" y1="${y}" y2="${y}" stroke="${s.color}" stroke-width="${s.width ?? 2}"${dash}/>`)
    parts.push(`<text x="${x + 36}" y="${y}" dominant-baseline="middle">${esc(s.label)}</text>`)
  })
  parts.push('</svg>')
  return `${parts.join('\n')}\n`
}
