import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { sleep } from '../../test/kit/wait.js'
import { rssBytes } from '../lib/cpu.js'
import { heapUsed, sample, scrape } from '../lib/metrics.js'
import { readLatenessTimeline } from '../lib/output-file.js'
import { offeredPerSecond, type Pacing, pacedLoad, waitForEmitted } from '../lib/paced-load.js'
import { loadPendingLog, restartOn, waitForPending } from '../lib/pending-log.js'
import { removeTempDir } from '../lib/resources.js'
import { withService } from '../lib/service-run.js'
import { type Stat, tail } from '../lib/stats.js'
import { cpuCores, met, num, ratio, row, stat } from '../report/format.js'
import type { Scenario } from './types.js'

/** Issue #15's long-window targets. */
const TARGET_RSS_BYTES = 1.5 * 2 ** 30
const TARGET_RESTART_S = 5
const TARGET_P99_MS = 10
const TARGET_MAX_MS = 50

const MIB = 2 ** 20
const pendingCount = (quick: boolean) => (quick ? 200_000 : 5_000_000)

/** (a) and (b): 5,000,000 decisions pending in a one-hour window, then a restart on them. */
export const longWindow5m: Scenario = {
  id: 'long-window-5m',
  title: 'Long window: 5,000,000 pending, RSS and restart',
  method:
    'A fresh service (EXP_UNIT_MS=3600000 so nothing falls due, DURABILITY=power, MAX_PENDING = count + 100,000) is loaded with 5,000,000 decisions (quick: 200,000; 150-byte contexts) by NDJSON batches of 5000, two requests in flight; VmRSS of the service (/proc/<pid>/status, every thread) is read 1 s after the pending gauge reached the count. Then it is stopped (SIGTERM; the stop is timed: it writes the engine snapshot) and started again on the same data dir: time from spawn to its ready line (recovery, here loading that snapshot, happens before it), then banditjoin_decisions_pending polled (refreshed about every 500 ms, up to 10 s) until it equals the count, and VmRSS read again. It is stopped again, its snapshot deleted, and started once more, as after a crash: the same times with the window of the log replayed. The log is in the page cache (just written).',
  async run(context) {
    const count = pendingCount(context.options.quick)
    const loaded = await loadPendingLog('long-window', count, { env: { DURABILITY: 'power' } })
    const { log } = loaded
    try {
      let rss: number
      let heap: number
      let stopSeconds: number
      let exit: number | string
      try {
        const pending = await waitForPending(loaded.server, count, 30_000)
        if (pending !== count) throw new Error(`${pending} decisions pending, expected ${count}`)
        await sleep(1000)
        rss = rssBytes(loaded.server.pid)
        heap = await heapUsed(loaded.server.url)
      } finally {
        // The stop writes the engine snapshot the restart loads: timed, and it must end cleanly.
        const stopping = performance.now()
        exit = await loaded.server.stop()
        stopSeconds = (performance.now() - stopping) / 1000
      }
      if (exit !== 0) throw new Error(`the service stopped with ${exit}, not 0`)
      const restarted = await restartOn(log, 10_000)
      // As after a crash: no snapshot, the log's window replayed.
      rmSync(join(log.files.dir, 'engine-snapshot'), { force: true })
      const replayed = await restartOn(log, 20_000)
      return {
        figures: {
          rss_bytes: rss,
          heap_used_bytes: heap,
          load_per_s: count / loaded.loadSeconds,
          ready_s: restarted.readySeconds,
          pending_restored: restarted.pending,
          pending_expected: count,
          restarted_rss_bytes: restarted.rssBytes,
          stop_s: stopSeconds,
          replay_ready_s: replayed.readySeconds,
          replay_pending_restored: replayed.pending,
        },
        details: { retries: loaded.retries, decisionJsonBytes: log.decisionJsonBytes, env: log.env },
      }
    } finally {
      removeTempDir(log.files.dir)
    }
  },
  rows(view) {
    const id = longWindow5m.id
    const s = view.get(id)
    if (s === undefined) return []
    const count = s.pending_expected?.median
    const rss = s.rss_bytes?.median
    const ready = s.ready_s?.median
    const restored = s.pending_restored?.min === count
    return [
      row(view, id, {
        measure: `RSS of the service with ${num(count)} pending (MiB)`,
        banditjoin: stat(mib(s.rss_bytes)),
        reference: `${num(rss === undefined || count === undefined ? undefined : rss / count)} B per decision (RSS ÷ count)`,
        ratio: ratio(rss, TARGET_RSS_BYTES),
        target: `≤ 1.5 GiB (${num(TARGET_RSS_BYTES / MIB)} MiB)`,
        met: met(rss === undefined ? undefined : rss <= TARGET_RSS_BYTES),
      }),
      row(view, id, {
        measure: `restart with ${num(count)} pending: spawn → ready (s)`,
        banditjoin: stat(s.ready_s, 2),
        reference: `restored ${num(s.pending_restored?.min)} / ${num(count)}`,
        ratio: ratio(ready, TARGET_RESTART_S),
        target: `≤ ${TARGET_RESTART_S} s, all pending restored`,
        met: met(ready === undefined ? undefined : ready <= TARGET_RESTART_S && restored),
      }),
      row(view, id, {
        measure: `restart with ${num(count)} pending as after a crash (no snapshot: the log replayed): spawn → ready (s)`,
        banditjoin: stat(s.replay_ready_s, 2),
        reference: `restored ${num(s.replay_pending_restored?.min)} / ${num(count)}`,
        ratio: ratio(s.replay_ready_s?.median, TARGET_RESTART_S),
        target: `≤ ${TARGET_RESTART_S} s, all pending restored`,
        met: met(
          s.replay_ready_s === undefined
            ? undefined
            : s.replay_ready_s.median <= TARGET_RESTART_S && s.replay_pending_restored?.min === count,
        ),
      }),
      row(view, id, {
        measure:
          'heap used with all pending, garbage included; RSS after the restart (MiB); load rate (decisions/s); stop (SIGTERM → exit, snapshot written) (s)',
        banditjoin: `${stat(mib(s.heap_used_bytes))}; ${stat(mib(s.restarted_rss_bytes))}; ${stat(s.load_per_s)}; ${stat(s.stop_s, 2)}`,
      }),
    ]
  },
}

/** A figure in bytes, in MiB. */
function mib(bytes: Stat | undefined): Stat | undefined {
  if (bytes === undefined) return undefined
  const scale = (v: number) => v / MIB
  return {
    median: scale(bytes.median),
    min: scale(bytes.min),
    max: scale(bytes.max),
    values: bytes.values.map(scale),
  }
}

/**
 * (c): 150 lines every 10 ms, every third one a reward for the decision before it: 10,000
 * decisions/s and 5,000 rewards/s.
 */
const STEADY_PACING: Pacing = { batchSize: 150, intervalMs: 10, concurrency: 32, withRewards: true }
const STEADY_PER_S = offeredPerSecond(STEADY_PACING)

interface SteadySize {
  expUnitMs: number
  seconds: number
}
const steadySize = (quick: boolean): SteadySize =>
  quick ? { expUnitMs: 10_000, seconds: 20 } : { expUnitMs: 60_000, seconds: 180 }

/** (c): a one-minute window kept full at 10,000 decisions/s with rewards. */
export const longWindowSteady: Scenario = {
  id: 'long-window-steady',
  title: 'Long window: steady state at 10,000 decisions/s, E = 60 s',
  method: `NDJSON batches of ${STEADY_PACING.batchSize} lines every ${STEADY_PACING.intervalMs} ms, every third line a reward for the decision before it (${num(STEADY_PER_S)} decisions/s and half as many rewards, paced from core 1, up to ${STEADY_PACING.concurrency} requests in flight) for 180 s with EXP_UNIT_MS=60000 (600,000 pending once the window is full after 60 s, and H = max(E, EARLY_REWARD_MS = 120 s) of emitted keys remembered; quick: 20 s with EXP_UNIT_MS=10000), DURABILITY=power, OUTPUT=file. The pending gauge and VmRSS are read as the load ends; once every acknowledged decision was emitted the service is stopped and the file read: lateness = emitted_ms − (decision_insert_ms + EXP_UNIT_MS) of every record, garbage collection included; "under load" are the records emitted before the last answer to the sender (the rest were emitted while the window drained with no load).`,
  async run(context) {
    const { expUnitMs, seconds } = steadySize(context.options.quick)
    return withService('long-window-steady', { EXP_UNIT_MS: String(expUnitMs) }, async (server, files) => {
      const { sender, cpu } = await pacedLoad(server, seconds, {}, { pacing: STEADY_PACING })
      const pendingAtEnd = sample(await scrape(server.url), 'banditjoin_decisions_pending') ?? Number.NaN
      const rssAtEnd = rssBytes(server.pid)
      const emitted = await waitForEmitted(server, sender.acked, expUnitMs + 30_000)
      await server.stop()
      const timeline = await readLatenessTimeline(files.output, expUnitMs)
      const underLoad = timeline.lateness.filter(
        (_, i) => (timeline.emittedMs[i] ?? 0) <= sender.finishedAtMs,
      )
      const all = tail(timeline.lateness.slice())
      const loaded = tail(underLoad)
      return {
        figures: {
          lateness_p50_ms: all.p50,
          lateness_p99_ms: all.p99,
          lateness_max_ms: all.max,
          under_load_p99_ms: loaded.p99,
          under_load_max_ms: loaded.max,
          under_load_records: loaded.count,
          achieved_per_s: sender.ratePerSecond,
          refused_batches: sender.refusedBatches,
          missing_records: sender.acked - all.count,
          pending_at_end: pendingAtEnd,
          rss_at_end_bytes: rssAtEnd,
          server_cores: cpu.serverCores,
          loadgen_cores: cpu.loadgenCores,
          other_cores: cpu.otherCores,
          send_slip_p99_ms: sender.slipMs.p99,
          blocked_batches: sender.blockedBatches,
        },
        details: {
          expUnitMs,
          seconds,
          records: all.count,
          emittedMetric: emitted,
          sender,
          worstBySecond: worstBySecond(timeline.lateness, timeline.emittedMs),
        },
      }
    })
  },
  rows(view) {
    const id = longWindowSteady.id
    const s = view.get(id)
    if (s === undefined) return []
    const p99 = s.lateness_p99_ms?.median
    const max = s.lateness_max_ms?.median
    const rate = s.achieved_per_s?.median
    return [
      row(view, id, {
        measure: `emitted_ms − due, ${num(s.pending_at_end?.median)} pending as the load ended: p50 / p99 / max (ms)`,
        banditjoin: `${num(s.lateness_p50_ms?.median, 1)} / ${num(p99, 1)} / ${num(max, 1)}`,
        reference: `under load p99 / max ${num(s.under_load_p99_ms?.median, 1)} / ${num(s.under_load_max_ms?.median, 1)}; missing ${num(s.missing_records?.max)}`,
        ratio: ratio(p99, TARGET_P99_MS),
        target: `p99 ≤ ${TARGET_P99_MS} ms, max ≤ ${TARGET_MAX_MS} ms, every record emitted`,
        met: met(
          p99 === undefined || max === undefined
            ? undefined
            : p99 <= TARGET_P99_MS && max <= TARGET_MAX_MS && s.missing_records?.max === 0,
        ),
      }),
      row(view, id, {
        measure: 'decisions/s acked; CPU server / load gen. / rest; RSS as the load ended (MiB)',
        banditjoin: `${stat(s.achieved_per_s)}; ${cpuCores(s)}; ${num((s.rss_at_end_bytes?.median ?? Number.NaN) / MIB)}`,
        reference: `offered ${num(STEADY_PER_S)}`,
        ratio: ratio(rate, STEADY_PER_S),
        target: 'sustained, nothing refused',
        met: met(
          rate === undefined ? undefined : rate >= 0.98 * STEADY_PER_S && s.refused_batches?.max === 0,
        ),
      }),
    ]
  },
}

/**
 * The largest lateness of the records emitted in each wall-clock second (`firstSecond` is the
 * first one's Unix second), to set against the service's GC pauses (bench/gc-lateness.ts).
 */
export interface WorstBySecond {
  firstSecond: number
  worstMs: number[]
}

function worstBySecond(lateness: Float64Array, emittedMs: Float64Array): WorstBySecond {
  let first = Number.POSITIVE_INFINITY
  for (const ms of emittedMs) first = Math.min(first, Math.floor(ms / 1000))
  const worstMs: number[] = []
  emittedMs.forEach((ms, i) => {
    const second = Math.floor(ms / 1000) - first
    worstMs[second] = Math.max(worstMs[second] ?? Number.NEGATIVE_INFINITY, lateness[i] as number)
  })
  return { firstSecond: first, worstMs: Array.from(worstMs, (w) => w ?? 0) }
}
