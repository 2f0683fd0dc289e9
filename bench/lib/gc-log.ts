/**
 * A profiling aid, preloaded into a service with
 * `BENCH_SERVICE_NODE_OPTIONS=--import=<this file, built>`: appends each garbage collection of the
 * main thread (wall-clock start, pause, kind) to `$TMPDIR/banditjoin-gc-<pid>.jsonl`, so that
 * pauses can be set against the records' lateness (`--trace-gc` would print to the service's
 * standard output, which the bench does not keep). Not used by a measuring run.
 */
import { appendFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { constants, PerformanceObserver, performance } from 'node:perf_hooks'
import { isMainThread } from 'node:worker_threads'

const KINDS: Record<number, string> = {
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb',
}

// The service's log threads get the preload too; only the main thread runs the join.
if (isMainThread) {
  const path = join(tmpdir(), `banditjoin-gc-${process.pid}.jsonl`)
  new PerformanceObserver((list) => {
    const lines = list.getEntries().map((entry) => {
      const kind = (entry as unknown as { detail?: { kind?: number } }).detail?.kind ?? 0
      return JSON.stringify({
        start_ms: performance.timeOrigin + entry.startTime,
        pause_ms: entry.duration,
        kind: KINDS[kind] ?? String(kind),
      })
    })
    appendFileSync(path, `${lines.join('\n')}\n`)
  }).observe({ entryTypes: ['gc'] })
}
