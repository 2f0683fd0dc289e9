import {
  keepPendingLog,
  loadPendingLog,
  pendingCount,
  releasePendingLog,
  restartOn,
  takePendingLog,
} from '../lib/pending-log.js'
import { met, num, row, stat } from '../report/format.js'
import type { Scenario } from './types.js'

const TARGET_S = 5

/** Restart with 1,000,000 pending decisions in the log (quick: 200,000): spawn to ready, all restored. */
export const restart: Scenario = {
  id: 'restart',
  title: 'Restart with pending decisions',
  method:
    "The memory scenario's data dir (or a freshly loaded one when run alone) holding 1,000,000 pending decisions (quick: 200,000), after a SIGTERM stop: time from spawn of `node dist/src/cli.js serve` to its ready line (recovery happens before it), then banditjoin_decisions_pending polled (refreshed about every 500 ms) until it equals the count. The log is in the page cache (just written).",
  async run(context, index) {
    const count = pendingCount(context.options.quick)
    let log = takePendingLog(context.shared, count)
    if (log === undefined) {
      context.log(`loading ${num(count)} pending decisions first`)
      const loaded = await loadPendingLog('restart', count)
      await loaded.server.stop()
      log = loaded.log
      keepPendingLog(context.shared, log)
    }
    try {
      const restarted = await restartOn(log, 3000)
      return {
        figures: {
          ready_s: restarted.readySeconds,
          pending_restored: restarted.pending,
          pending_expected: count,
        },
      }
    } finally {
      if (index === context.options.runs - 1) releasePendingLog(context.shared)
    }
  },
  rows(view) {
    const s = view.get(restart.id)
    if (s === undefined) return []
    const seconds = s.ready_s?.median
    const restored = s.pending_restored?.min === s.pending_expected?.median
    return [
      row(view, restart.id, {
        measure: `spawn → ready with ${num(s.pending_expected?.median)} pending (s)`,
        banditjoin: stat(s.ready_s, 2),
        target: `≤ ${TARGET_S} s, all pending restored`,
        met: met(seconds === undefined ? undefined : seconds <= TARGET_S && restored),
      }),
      row(view, restart.id, {
        measure: 'pending after restart (fewest run) / expected',
        banditjoin: `${num(s.pending_restored?.min)} / ${num(s.pending_expected?.median)}`,
      }),
    ]
  },
}
