import { mkdirSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { MachineInfo } from '../lib/machine.js'
import type { RunOutcome, Summary, TableRow } from '../scenarios/types.js'

/** Where results go: bench/results/ of the source tree (dist/bench/report → ../../../bench/results). */
export const RESULTS_DIR = fileURLToPath(new URL('../../../bench/results/', import.meta.url))

/** Six significant digits are plenty for measured figures, and keep the JSON readable. */
const rounded = (_key: string, value: unknown) =>
  typeof value === 'number' && !Number.isInteger(value) ? Number(value.toPrecision(6)) : value

export interface ScenarioResult {
  id: string
  title: string
  method: string
  command: string
  status: 'ok' | 'failed' | 'skipped'
  /** Why it failed or was skipped. */
  error?: string
  runs: RunOutcome[]
  summary: Summary
}

export interface BenchResults {
  startedAt: string
  finishedAt: string
  seconds: number
  argv: string[]
  quick: boolean
  runsPerScenario: number
  machine: MachineInfo
  scenarios: ScenarioResult[]
  table: TableRow[]
}

/**
 * Writes <timestamp>.json, <timestamp>.md and latest.json, and README-table.md when the run is
 * `complete` (every scenario, full length: what the README shows is never replaced by a partial
 * or quick run). Returns the paths written.
 */
export function writeResults(results: BenchResults, table: string, complete: boolean): string[] {
  mkdirSync(RESULTS_DIR, { recursive: true })
  const stamp = results.startedAt.replace(/[:.]/g, '-')
  const json = `${JSON.stringify(results, rounded, 2)}\n`
  const files: [string, string][] = [
    [`${stamp}.json`, json],
    [`${stamp}.md`, table],
    ['latest.json', json],
  ]
  if (complete) files.push(['README-table.md', table])
  for (const [name, text] of files) writeFileSync(`${RESULTS_DIR}${name}`, text)
  return files.map(([name]) => `${RESULTS_DIR}${name}`)
}
