import type { Stat } from '../lib/stats.js'

export interface BenchOptions {
  /** Shorter windows, smaller counts, one run by default: a fast check, under 2 minutes. */
  quick: boolean
  runs: number
}

export interface RunContext {
  options: BenchOptions
  /** Ids of every scenario of this invocation. */
  selected: ReadonlySet<string>
  /** What a scenario hands to a later one (restart reuses the log memory loaded). */
  shared: Map<string, unknown>
  log(message: string): void
}

/** The figures of one run, by name (units are in the names: _ms, _s, per_s, _bytes, _cores). */
export type Figures = Record<string, number>

export interface RunOutcome {
  figures: Figures
  /** Anything else worth keeping in the JSON (status codes, counts, settings). */
  details?: Record<string, unknown>
}

/** Median, min and max of each figure over the runs. */
export type Summary = Record<string, Stat>

export interface ResultsView {
  /** The summary of a scenario of this invocation, if it ran and succeeded. */
  get(id: string): Summary | undefined
  /** The command that reproduces a scenario alone. */
  command(id: string): string
  runs: number
}

/** One line of the README table. */
export interface TableRow {
  scenario: string
  measure: string
  banditjoin: string
  reference: string
  ratio: string
  target: string
  met: 'yes' | 'no' | ''
  command: string
}

export interface Scenario {
  id: string
  title: string
  /** How it is measured, for the JSON and the table's notes. */
  method: string
  /** Scenarios whose figures this one is compared with; --only runs them too. */
  needs?: string[]
  /** Why this machine cannot run the scenario (e.g. no Java for the Kafka broker), or undefined. */
  skip?(): string | undefined
  run(context: RunContext, index: number): Promise<RunOutcome>
  rows(view: ResultsView): TableRow[]
}
