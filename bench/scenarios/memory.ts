import { sleep } from '../../test/kit/wait.js'
import { CONTEXT_BYTES } from '../lib/bodies.js'
import { rssBytes } from '../lib/cpu.js'
import { heapUsed } from '../lib/metrics.js'
import {
  keepPendingLog,
  loadPendingLog,
  pendingCount,
  pendingEnv,
  waitForPending,
} from '../lib/pending-log.js'
import { removeTempDir } from '../lib/resources.js'
import { startWorker } from '../lib/workers.js'
import { met, num, ratio, row, stat } from '../report/format.js'
import type { PendingMemoryConfig, PendingMemoryResult } from '../workers/pending-memory.js'
import type { ResultsView, RunContext, Scenario, TableRow } from './types.js'

interface MemoryVariant {
  id: string
  title: string
  /** Bytes of each decision's context. */
  contextBytes: number
  count(quick: boolean): number
  countText: string
}

/** RSS and heap growth per pending decision, with `count` decisions of `contextBytes` contexts pending. */
function memoryScenario(variant: MemoryVariant): Scenario {
  const scenario: Scenario = {
    id: variant.id,
    title: variant.title,
    method: `A fresh service (EXP_UNIT_MS=3600000 so nothing falls due, DURABILITY=process) is loaded with ${variant.countText} decisions (${variant.contextBytes}-byte contexts) by NDJSON batches of 5000; VmRSS (/proc/<pid>/status) and banditjoin_nodejs_heap_size_used_bytes (/metrics) are read 0.5 s after ready and 1 s after the pending gauge reached the count; growth ÷ count; VmRSS is also read 1 s after the first third was pending (a separate load), and the growth from there to all ÷ the two thirds is the cost per decision without what does not grow with the count (young generations, caches, code). No GC can be forced from outside, so heap figures include garbage not yet collected; so a worker (--expose-gc) also puts the same count of decisions through the service ingest into an engine and reads heap (plus typed-array contents, outside the heap) and RSS after a forced GC: the state itself.`,
    run: (context) => runMemory(variant, context),
    rows: (view) => memoryRows(scenario.id, view),
  }
  return scenario
}

/** With 150-byte contexts: 1,000,000 decisions pending (quick: 200,000). */
export const memory = memoryScenario({
  id: 'memory',
  title: 'Memory per pending decision',
  contextBytes: CONTEXT_BYTES,
  count: pendingCount,
  countText: '1,000,000 (quick: 200,000)',
})

/** With 2 KB contexts: the figure should not grow with the context, which the log holds. */
export const memory2k = memoryScenario({
  id: 'memory-2k',
  title: 'Memory per pending decision, 2 KB contexts',
  contextBytes: 2048,
  count: (quick) => (quick ? 100_000 : 300_000),
  countText: '300,000 (quick: 100,000)',
})

async function runMemory(variant: MemoryVariant, context: RunContext) {
  const count = variant.count(context.options.quick)
  let rssBefore = 0
  let heapBefore = 0
  let rssMidway = 0
  const midwayCount = Math.round(count / 3)
  const loaded = await loadPendingLog(variant.id, count, {
    beforeLoad: async (server) => {
      await sleep(500)
      rssBefore = rssBytes(server.pid)
      heapBefore = await heapUsed(server.url)
    },
    contextBytes: variant.contextBytes,
    midway: {
      decisions: midwayCount,
      call: async (server) => {
        await waitForPending(server, midwayCount, 10_000)
        await sleep(1000)
        rssMidway = rssBytes(server.pid)
      },
    },
  })
  const { server, log } = loaded
  let measured = false
  try {
    const pending = await waitForPending(server, count, 10_000)
    if (pending !== count) throw new Error(`${pending} decisions pending, expected ${count}`)
    await sleep(1000)
    const rssAfter = rssBytes(server.pid)
    const heapAfter = await heapUsed(server.url)
    const state = await startWorker<PendingMemoryResult>(
      'pending-memory',
      { decisions: count, contextBytes: variant.contextBytes } satisfies PendingMemoryConfig,
      { nodeArgs: ['--expose-gc'], timeoutMs: 300_000 },
    ).result
    if (state.pending !== count) throw new Error(`worker: ${state.pending} pending, expected ${count}`)
    measured = true
    return {
      figures: {
        rss_per_decision_bytes: (rssAfter - rssBefore) / count,
        rss_marginal_per_decision_bytes: (rssAfter - rssMidway) / (count - midwayCount),
        heap_per_decision_bytes: (heapAfter - heapBefore) / count,
        state_heap_per_decision_bytes: state.heapPerDecision,
        state_rss_per_decision_bytes: state.rssPerDecision,
        decision_json_bytes: log.decisionJsonBytes,
        limit_bytes: 1.3 * log.decisionJsonBytes + 100,
        rss_after_bytes: rssAfter,
        load_per_s: count / loaded.loadSeconds,
        pending: count,
      },
      details: {
        count,
        rssBefore,
        rssMidway,
        rssAfter,
        heapBefore,
        heapAfter,
        retries: loaded.retries,
        pendingEnv: pendingEnv(log.files, count),
      },
    }
  } finally {
    await server.stop()
    // The restart scenario reuses a log known to hold every decision.
    if (measured && variant.id === 'memory' && context.selected.has('restart'))
      keepPendingLog(context.shared, log)
    else removeTempDir(log.files.dir)
  }
}

function memoryRows(id: string, view: ResultsView): TableRow[] {
  const s = view.get(id)
  if (s === undefined) return []
  const limit = s.limit_bytes?.median
  const json = s.decision_json_bytes?.median
  const perDecision = (name: string, measure: string): TableRow => {
    const value = s[name]?.median
    return row(view, id, {
      measure,
      banditjoin: stat(s[name]),
      reference: `1.3 × ${num(json)} + 100 = ${num(limit)}`,
      ratio: ratio(value, limit),
      target: '≤ 1.3 × JSON + 100 B',
      met: met(value === undefined || limit === undefined ? undefined : value <= limit),
    })
  }
  return [
    perDecision(
      'rss_per_decision_bytes',
      `RSS per pending decision (bytes), ${num(s.pending?.median)} pending`,
    ),
    perDecision(
      'rss_marginal_per_decision_bytes',
      'RSS growth per decision from a third of them pending to all (costs that do not grow with the count set aside)',
    ),
    perDecision('heap_per_decision_bytes', 'heap used per pending decision (bytes)'),
    perDecision(
      'state_heap_per_decision_bytes',
      'after a forced GC: heap and typed arrays per pending decision, ingest + engine alone (bytes)',
    ),
    row(view, id, {
      measure: 'RSS with all pending (MB); load rate (decisions/s)',
      banditjoin: `${num((s.rss_after_bytes?.median ?? Number.NaN) / 2 ** 20)}; ${stat(s.load_per_s)}`,
    }),
  ]
}
