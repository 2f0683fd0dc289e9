import type { ScenarioResult } from '../report/results.js'
import { SCENARIOS } from '../scenarios/index.js'
import type { RunContext, RunOutcome, Scenario, Summary } from '../scenarios/types.js'
import { summarize } from './stats.js'

/** The scenarios asked for, plus those their figures are compared with, in run order. */
export function selectScenarios(only: string[] | undefined): Scenario[] {
  if (only === undefined) return [...SCENARIOS]
  const known = new Set(SCENARIOS.map((s) => s.id))
  const unknown = only.filter((id) => !known.has(id))
  if (unknown.length > 0) {
    throw new Error(`unknown scenario ${unknown.join(', ')}; known: ${[...known].join(', ')}`)
  }
  const wanted = new Set(only)
  for (const s of SCENARIOS) if (wanted.has(s.id)) for (const need of s.needs ?? []) wanted.add(need)
  return SCENARIOS.filter((s) => wanted.has(s.id))
}

function summarizeRuns(runs: RunOutcome[]): Summary {
  const summary: Summary = {}
  const names = new Set(runs.flatMap((r) => Object.keys(r.figures)))
  for (const name of names) summary[name] = summarize(runs.map((r) => r.figures[name] ?? Number.NaN))
  return summary
}

function shown(figures: Record<string, number>): string {
  return Object.entries(figures)
    .map(([name, value]) => `${name}=${Number.isInteger(value) ? value : value.toFixed(2)}`)
    .join(' ')
}

/**
 * Runs every scenario `runs` times, round-robin (run 1 of each, then run 2 of each...), so that a
 * disturbance of the machine (or a drift) spreads over the scenarios compared with each other
 * instead of hitting all runs of one. A scenario that fails is not run again; one this machine
 * cannot run (its `skip()` gives the reason) is not run at all.
 */
export async function runAll(
  scenarios: readonly Scenario[],
  context: RunContext,
  command: (id: string) => string,
): Promise<ScenarioResult[]> {
  const results: ScenarioResult[] = scenarios.map((s) => ({
    id: s.id,
    title: s.title,
    method: s.method,
    command: command(s.id),
    status: 'ok',
    runs: [],
    summary: {},
  }))
  for (const [k, scenario] of scenarios.entries()) {
    const reason = scenario.skip?.()
    if (reason === undefined) continue
    Object.assign(results[k] as ScenarioResult, { status: 'skipped', error: reason })
    context.log(`${scenario.id} skipped: ${reason}`)
  }
  const { runs } = context.options
  for (let index = 0; index < runs; index++) {
    for (const [k, scenario] of scenarios.entries()) {
      const result = results[k] as ScenarioResult
      if (result.status !== 'ok') continue
      const started = performance.now()
      try {
        const outcome = await scenario.run(context, index)
        result.runs.push(outcome)
        const seconds = ((performance.now() - started) / 1000).toFixed(1)
        context.log(`${scenario.id} run ${index + 1}/${runs} (${seconds} s): ${shown(outcome.figures)}`)
      } catch (error) {
        result.status = 'failed'
        result.error = String((error as Error)?.stack ?? error)
        context.log(`${scenario.id} run ${index + 1} failed: ${result.error}`)
      }
    }
  }
  for (const result of results) result.summary = summarizeRuns(result.runs)
  return results
}
