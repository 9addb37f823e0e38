import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'

export const RESULTS_DIR = new URL('../results/', import.meta.url).pathname

/** Writes a benchmark's figures as JSON and Markdown side by side in bench/results/. */
export async function writeResults(name: string, json: unknown, markdown: string): Promise<string[]> {
  await mkdir(RESULTS_DIR, { recursive: true })
  const files = [join(RESULTS_DIR, `${name}.json`), join(RESULTS_DIR, `${name}.md`)]
  await writeFile(files[0]!, `${JSON.stringify(json, null, 2)}\n`)
  await writeFile(files[1]!, markdown.endsWith('\n') ? markdown : `${markdown}\n`)
  return files
}

export function mdTable(header: string[], rows: Array<Array<string | number>>): string {
  const line = (cells: Array<string | number>) => `| ${cells.map(String).join(' | ')} |`
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n')
}

export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b)
  const mid = s.length >> 1
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2
}

export const fmt = (n: number, digits = 2) => (Number.isFinite(n) ? n.toFixed(digits) : String(n))
