/**
 * `node dist/bench/gc-lateness.js <gc log> [results.json]`: sets the GC pauses a service logged
 * (bench/lib/gc-log.ts, preloaded through BENCH_SERVICE_NODE_OPTIONS) against the worst lateness
 * of each second of a long-window-steady run (its details in the results, by default
 * bench/results/latest.json): pauses by kind, the longest ones, and the latest seconds with the
 * longest pause in them or in the second before.
 */
import { readFileSync } from 'node:fs'
import type { BenchResults } from './report/results.js'
import type { WorstBySecond } from './scenarios/long-window.js'

interface Pause {
  start_ms: number
  pause_ms: number
  kind: string
}

const TOP = 10
const LATE_MS = 50

function main(gcPath: string, resultsPath: string): void {
  const pauses = readFileSync(gcPath, 'utf8')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as Pause)
  const byKind = new Map<string, { count: number; totalMs: number; maxMs: number }>()
  for (const p of pauses) {
    const k = byKind.get(p.kind) ?? { count: 0, totalMs: 0, maxMs: 0 }
    k.count++
    k.totalMs += p.pause_ms
    k.maxMs = Math.max(k.maxMs, p.pause_ms)
    byKind.set(p.kind, k)
  }
  print(`GC pauses of the main thread: ${pauses.length}`)
  for (const [kind, k] of byKind)
    print(`  ${kind}: ${k.count}, ${fixed(k.totalMs)} ms in all, longest ${fixed(k.maxMs)} ms`)
  print(`longest ${TOP}:`)
  for (const p of [...pauses].sort((a, b) => b.pause_ms - a.pause_ms).slice(0, TOP))
    print(`  ${fixed(p.pause_ms)} ms ${p.kind} at ${new Date(p.start_ms).toISOString()}`)

  const results = JSON.parse(readFileSync(resultsPath, 'utf8')) as BenchResults
  const run = results.scenarios.find((s) => s.id === 'long-window-steady')?.runs[0]
  const worst = run?.details?.worstBySecond as WorstBySecond | undefined
  if (worst === undefined) throw new Error(`${resultsPath} has no long-window-steady run`)
  // The longest pause that started in each second (Unix seconds).
  const longest = new Map<number, Pause>()
  for (const p of pauses) {
    const second = Math.floor(p.start_ms / 1000)
    if ((longest.get(second)?.pause_ms ?? -1) < p.pause_ms) longest.set(second, p)
  }
  const pauseNear = (second: number) =>
    [longest.get(second), longest.get(second - 1)].reduce<Pause | undefined>(
      (a, b) => (b !== undefined && (a === undefined || b.pause_ms > a.pause_ms) ? b : a),
      undefined,
    )
  const seconds = worst.worstMs.map((ms, i) => ({ second: worst.firstSecond + i, ms }))
  const late = seconds.filter((s) => s.ms > LATE_MS)
  const lateWithPause = late.filter((s) => (pauseNear(s.second)?.pause_ms ?? 0) >= LATE_MS / 2)
  print(
    `seconds with a record later than ${LATE_MS} ms: ${late.length} of ${seconds.length}; ${lateWithPause.length} of them with a GC pause ≥ ${LATE_MS / 2} ms in it or the second before`,
  )
  print(`latest ${TOP} seconds (worst lateness; longest GC pause in it or the second before):`)
  for (const s of [...seconds].sort((a, b) => b.ms - a.ms).slice(0, TOP)) {
    const p = pauseNear(s.second)
    const gc = p === undefined ? 'no GC' : `${fixed(p.pause_ms)} ms ${p.kind}`
    print(`  ${new Date(s.second * 1000).toISOString()}: ${fixed(s.ms)} ms; ${gc}`)
  }
}

const fixed = (ms: number) => ms.toFixed(1)
const print = (line: string) => process.stdout.write(`${line}\n`)

const [gcPath, resultsPath = 'bench/results/latest.json'] = process.argv.slice(2)
if (gcPath === undefined) {
  process.stderr.write('usage: node dist/bench/gc-lateness.js <gc log> [results.json]\n')
  process.exitCode = 2
} else main(gcPath, resultsPath)
