/**
 * Hand-rolled SVG charts (no charting dependency, as bench/cache-policy/chart.ts): a CDF of time
 * to first audio on a log axis, and bytes per second by source over time, stacked.
 */
export interface Marker {
  label: string
  x: number
  color: string
}

const W = 760
const H = 420
const M = { left: 64, right: 20, top: 52, bottom: 96 }

const esc = (t: string) => t.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')

function frame(width: number, height: number, title: string, body: string[]): string {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${width / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${esc(title)}</text>`,
    ...body,
    '</svg>',
    '',
  ].join('\n')
}

function legend(items: Array<{ label: string; color: string; dashed?: boolean; area?: boolean }>, x0: number, y0: number, width: number): string[] {
  const out: string[] = []
  const perRow = 3
  items.forEach((item, i) => {
    const x = x0 + (i % perRow) * (width / perRow)
    const y = y0 + Math.floor(i / perRow) * 18
    if (item.area) out.push(`<rect x="${x}" y="${y - 6}" width="26" height="12" fill="${item.color}" fill-opacity="0.7"/>`)
    else out.push(`<line x1="${x}" x2="${x + 26}" y1="${y}" y2="${y}" stroke="${item.color}" stroke-width="2.5"${item.dashed ? ' stroke-dasharray="6 4"' : ''}/>`)
    out.push(`<text x="${x + 32}" y="${y}" dominant-baseline="middle">${esc(item.label)}</text>`)
  })
  return out
}

/** Cumulative share of plays (y) started within x ms, x on a log scale. */
export function cdfChart(title: string, series: Array<{ label: string; color: string; dashed?: boolean; values: number[] }>, markers: Marker[]): string {
  const plotW = W - M.left - M.right
  const plotH = H - M.top - M.bottom
  const all = series.flatMap((s) => s.values).filter((v) => v > 0)
  const lo = Math.floor(Math.log10(Math.max(0.5, Math.min(1, ...all))))
  const hi = Math.ceil(Math.log10(Math.max(10, ...all, ...markers.map((m) => m.x))))
  const sx = (v: number) => M.left + ((Math.log10(Math.max(10 ** lo, v)) - lo) / (hi - lo)) * plotW
  const sy = (f: number) => M.top + plotH - f * plotH
  const body: string[] = []
  for (let f = 0; f <= 1.0001; f += 0.1) {
    body.push(`<line x1="${M.left}" x2="${M.left + plotW}" y1="${sy(f).toFixed(1)}" y2="${sy(f).toFixed(1)}" stroke="#e4e4e4"/>`)
    body.push(`<text x="${M.left - 6}" y="${sy(f).toFixed(1)}" text-anchor="end" dominant-baseline="middle">${Math.round(f * 100)}%</text>`)
  }
  for (let e = lo; e <= hi; e++) {
    const x = sx(10 ** e).toFixed(1)
    body.push(`<line x1="${x}" x2="${x}" y1="${M.top}" y2="${M.top + plotH}" stroke="#e4e4e4"/>`)
    body.push(`<text x="${x}" y="${M.top + plotH + 16}" text-anchor="middle">${10 ** e >= 1000 ? `${10 ** (e - 3)} s` : `${10 ** e} ms`}</text>`)
  }
  body.push(`<rect x="${M.left}" y="${M.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#888"/>`)
  body.push(`<text x="${M.left + plotW / 2}" y="${M.top + plotH + 34}" text-anchor="middle">time from play() to first audio (log scale)</text>`)
  body.push(`<text transform="translate(16 ${M.top + plotH / 2}) rotate(-90)" text-anchor="middle">share of plays</text>`)
  // Labels on two rows, in order of x, so that neighbours do not overlap.
  ;[...markers]
    .sort((a, b) => a.x - b.x)
    .forEach((m, i) => {
      const x = sx(m.x).toFixed(1)
      body.push(`<line x1="${x}" x2="${x}" y1="${M.top}" y2="${M.top + plotH}" stroke="${m.color}" stroke-dasharray="2 3"/>`)
      body.push(`<text x="${x}" y="${M.top - 4 - (i % 2) * 11}" text-anchor="middle" font-size="10" fill="${m.color}">${esc(m.label)}</text>`)
    })
  for (const s of series) {
    const v = [...s.values].sort((a, b) => a - b)
    if (v.length === 0) continue
    const pts: string[] = [`${sx(v[0]!).toFixed(1)},${sy(0).toFixed(1)}`]
    v.forEach((x, i) => {
      pts.push(`${sx(x).toFixed(1)},${sy(i / v.length).toFixed(1)}`, `${sx(x).toFixed(1)},${sy((i + 1) / v.length).toFixed(1)}`)
    })
    body.push(`<polyline data-series="${esc(s.label)}" points="${pts.join(' ')}" fill="none" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`)
  }
  body.push(
    ...legend(
      series.map((s) => ({ label: `${s.label} (${s.values.length})`, color: s.color, ...(s.dashed !== undefined && { dashed: s.dashed }) })),
      M.left,
      M.top + plotH + 56,
      plotW,
    ),
  )
  return frame(W, H, title, body)
}

export interface StackPanel {
  title: string
  /** Bucket starts, seconds. */
  t: number[]
  /** Stacked from the bottom. */
  layers: Array<{ label: string; color: string; values: number[] }>
  /** Drawn as lines over the stack. */
  lines: Array<{ label: string; color: string; values: number[] }>
  yLabel: string
}

/** Side-by-side panels of stacked areas over time, on a shared y scale. */
export function stackedChart(title: string, panels: StackPanel[]): string {
  const pw = 470
  const ph = 330
  const m = { left: 64, right: 14, top: 58, bottom: 46 }
  const plotW = pw - m.left - m.right
  const plotH = ph - m.top - m.bottom
  let yMax = 1
  for (const p of panels) {
    p.t.forEach((_, i) => {
      yMax = Math.max(
        yMax,
        p.layers.reduce((n, l) => n + (l.values[i] ?? 0), 0),
        ...p.lines.map((l) => l.values[i] ?? 0),
      )
    })
  }
  const step = niceStep(yMax / 5)
  yMax = Math.ceil(yMax / step) * step
  const body: string[] = []
  panels.forEach((p, k) => {
    const x0 = k * pw
    const tMax = Math.max(1, ...p.t)
    const sx = (t: number) => x0 + m.left + (t / tMax) * plotW
    const sy = (v: number) => m.top + plotH - (v / yMax) * plotH
    body.push(`<text x="${x0 + m.left + plotW / 2}" y="${m.top - 10}" text-anchor="middle" font-weight="bold">${esc(p.title)}</text>`)
    for (let v = 0; v <= yMax + 1e-9; v += step) {
      body.push(`<line x1="${x0 + m.left}" x2="${x0 + m.left + plotW}" y1="${sy(v).toFixed(1)}" y2="${sy(v).toFixed(1)}" stroke="#e4e4e4"/>`)
      body.push(`<text x="${x0 + m.left - 6}" y="${sy(v).toFixed(1)}" text-anchor="end" dominant-baseline="middle">${fmtBytes(v)}</text>`)
    }
    const tStep = niceStep(tMax / 6)
    for (let t = 0; t <= tMax; t += tStep) body.push(`<text x="${sx(t).toFixed(1)}" y="${m.top + plotH + 16}" text-anchor="middle">${t} s</text>`)
    const base = p.t.map(() => 0)
    for (const layer of p.layers) {
      const top = base.map((b, i) => b + (layer.values[i] ?? 0))
      const upper = p.t.map((t, i) => `${sx(t).toFixed(1)},${sy(top[i]!).toFixed(1)}`)
      const lower = p.t.map((t, i) => `${sx(t).toFixed(1)},${sy(base[i]!).toFixed(1)}`).reverse()
      body.push(`<polygon data-series="${esc(layer.label)}" points="${[...upper, ...lower].join(' ')}" fill="${layer.color}" fill-opacity="0.7" stroke="none"/>`)
      top.forEach((v, i) => {
        base[i] = v
      })
    }
    for (const line of p.lines) {
      body.push(
        `<polyline data-series="${esc(line.label)}" points="${p.t.map((t, i) => `${sx(t).toFixed(1)},${sy(line.values[i] ?? 0).toFixed(1)}`).join(' ')}" fill="none" stroke="${line.color}" stroke-width="2"/>`,
      )
    }
    body.push(`<rect x="${x0 + m.left}" y="${m.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#888"/>`)
    body.push(`<text x="${x0 + m.left + plotW / 2}" y="${ph - 10}" text-anchor="middle">wall time</text>`)
    body.push(`<text transform="translate(${x0 + 14} ${m.top + plotH / 2}) rotate(-90)" text-anchor="middle">${esc(p.yLabel)}</text>`)
  })
  const first = panels[0]
  const items = first ? [...first.layers.map((l) => ({ label: l.label, color: l.color, area: true })), ...first.lines.map((l) => ({ label: l.label, color: l.color }))] : []
  const width = pw * Math.max(1, panels.length)
  body.push(...legend(items, 70, ph + 14, width - 100))
  return frame(width, ph + 24 + 18 * Math.ceil(items.length / 3), title, body)
}

function niceStep(raw: number): number {
  if (!(raw > 0)) return 1
  const p = 10 ** Math.floor(Math.log10(raw))
  for (const k of [1, 2, 2.5, 5, 10]) if (raw <= k * p) return k * p
  return 10 * p
}

export function fmtBytes(v: number): string {
  if (v >= 1e9) return `${(v / 1e9).toFixed(1)} GB`
  if (v >= 1e6) return `${(v / 1e6).toFixed(v >= 1e7 ? 0 : 1)} MB`
  if (v >= 1e3) return `${(v / 1e3).toFixed(v >= 1e4 ? 0 : 1)} kB`
  return `${Math.round(v)} B`
}
