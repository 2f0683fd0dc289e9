/**
 * `npm run bench`: runs the benchmark scenarios against the built service, each several times,
 * and writes bench/results/<timestamp>.json and .md, latest.json, and (after a complete full
 * run) README-table.md. Every child process is killed and every temp dir removed at the end,
 * also on error or Ctrl-C.
 */
import { commandFor, parseArgs, USAGE } from './lib/args.js'
import { snapshotBuild } from './lib/build-snapshot.js'
import { machineInfo } from './lib/machine.js'
import { cleanupAll, installCleanupHandlers } from './lib/resources.js'
import { runAll, selectScenarios } from './lib/runner.js'
import { caveats } from './report/caveats.js'
import { type BenchResults, type ScenarioResult, writeResults } from './report/results.js'
import { markdownTable } from './report/table.js'
import type { ResultsView, RunContext } from './scenarios/types.js'

const log = (message: string) => process.stderr.write(`bench: ${message}\n`)

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2))
  if (args.help) {
    process.stdout.write(USAGE)
    return 0
  }
  installCleanupHandlers()
  const scenarios = selectScenarios(args.only)
  snapshotBuild()
  const startedAt = new Date().toISOString()
  const t0 = performance.now()
  const machine = machineInfo()
  const context: RunContext = {
    options: { quick: args.quick, runs: args.runs },
    selected: new Set(scenarios.map((s) => s.id)),
    shared: new Map(),
    log,
  }
  const command = (id: string) => commandFor(id, args)
  log(`${scenarios.map((s) => s.id).join(', ')}; ${args.runs} run(s) each${args.quick ? ', quick' : ''}`)
  let results: ScenarioResult[]
  try {
    results = await runAll(scenarios, context, command)
  } finally {
    cleanupAll()
  }
  const view: ResultsView = {
    get: (id) => {
      const r = results.find((s) => s.id === id)
      return r?.status === 'ok' ? r.summary : undefined
    },
    command,
    runs: args.runs,
  }
  const rows = scenarios.flatMap((s) => s.rows(view))
  const failures = results
    .filter((r) => r.status === 'failed')
    .map((r) => ({ id: r.id, error: r.error ?? '' }))
  const table = markdownTable({
    rows,
    machine,
    startedAt,
    quick: args.quick,
    runs: args.runs,
    notes: caveats(results),
    failures,
    skipped: results.filter((r) => r.status === 'skipped').map((r) => ({ id: r.id, reason: r.error ?? '' })),
    methods: results.map((r) => ({ id: r.id, title: r.title, method: r.method, command: r.command })),
  })
  const seconds = (performance.now() - t0) / 1000
  const output: BenchResults = {
    startedAt,
    finishedAt: new Date().toISOString(),
    seconds,
    argv: process.argv.slice(2),
    quick: args.quick,
    runsPerScenario: args.runs,
    machine,
    scenarios: results,
    table: rows,
  }
  const complete = !args.quick && args.only === undefined
  const paths = writeResults(output, table, complete)
  process.stdout.write(`\n${table}\n`)
  log(`done in ${seconds.toFixed(1)} s; wrote ${paths.join(', ')}`)
  if (!complete) log('README-table.md is written by complete full runs only (no --quick, no --only)')
  return failures.length > 0 ? 1 : 0
}

main().then(
  (code) => {
    process.exitCode = code
  },
  (error: unknown) => {
    cleanupAll()
    process.stderr.write(`bench: ${String((error as Error)?.message ?? error)}\n`)
    process.exitCode = 2
  },
)
