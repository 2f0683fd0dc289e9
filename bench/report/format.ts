import type { Stat } from '../lib/stats.js'
import type { ResultsView, Summary, TableRow } from '../scenarios/types.js'

/** 1234567.8 → "1,234,568" (or with `digits` decimals). */
export function num(value: number | undefined, digits = 0): string {
  if (value === undefined || !Number.isFinite(value)) return 'n/a'
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
}

/** The median, with min–max when there was more than one run. */
export function stat(value: Stat | undefined, digits = 0): string {
  if (value === undefined) return 'n/a'
  if (value.values.length < 2) return num(value.median, digits)
  return `${num(value.median, digits)} (${num(value.min, digits)}–${num(value.max, digits)})`
}

/** "0.95 / 0.50 / 0.02": cores used by the server, the load generator and the rest of the machine. */
export function cpuCores(s: Summary | undefined): string {
  return [s?.server_cores, s?.loadgen_cores, s?.other_cores].map((c) => num(c?.median, 2)).join(' / ')
}

export function ratio(value: number | undefined, reference: number | undefined): string {
  if (value === undefined || reference === undefined || reference === 0) return 'n/a'
  return `${(value / reference).toFixed(2)}×`
}

export function met(ok: boolean | undefined): TableRow['met'] {
  if (ok === undefined) return ''
  return ok ? 'yes' : 'no'
}

/** A table row of scenario `id`, with its reproducing command. */
export function row(
  view: ResultsView,
  id: string,
  fields: Partial<TableRow> & { measure: string },
): TableRow {
  return {
    scenario: id,
    banditjoin: '',
    reference: '',
    ratio: '',
    target: '',
    met: '',
    command: view.command(id),
    ...fields,
  }
}
