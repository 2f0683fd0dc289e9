/**
 * What one pending decision costs once garbage is collected: N decisions (150-byte contexts)
 * through the service's own ingest (NDJSON line parsed, normalised, logged event) into a
 * JoinEngine with a window long enough that none falls due; heap and RSS are read after a
 * forced GC (--expose-gc) before and after. The service figures include garbage and V8's
 * headroom; this one is the state itself.
 */
import { JoinEngine } from '../../src/engine/engine.js'
import { parseJsonText } from '../../src/ingest/json.js'
import { toIncomingEvent, toLoggedEvent } from '../../src/ingest/validate.js'
import { decisionLine, keyPrefix } from '../lib/bodies.js'
import { workerMain } from '../lib/worker-main.js'

export interface PendingMemoryConfig {
  decisions: number
  /** Bytes of each decision's context (default 150). */
  contextBytes?: number
}

export interface PendingMemoryResult {
  heapPerDecision: number
  rssPerDecision: number
  pending: number
}

const SETTINGS = {
  expUnitMs: 3_600_000,
  earlyRewardMs: 120_000,
  rewardAgg: 'last',
  defaultReward: 0,
} as const
const LIMITS = { maxContextBytes: 65_536, maxFieldBytes: 1024 }
const START_MS = 1_800_000_000_000

function collect(): NodeJS.MemoryUsage {
  const gc = (globalThis as { gc?: () => void }).gc
  if (gc === undefined) throw new Error('run with --expose-gc')
  gc()
  gc()
  return process.memoryUsage()
}

workerMain<PendingMemoryConfig, PendingMemoryResult>(async ({ decisions, contextBytes }) => {
  const engine = new JoinEngine(SETTINGS, { record() {}, deadLetter() {}, observe() {} })
  const prefix = keyPrefix()
  const before = collect()
  for (let n = 0; n < decisions; n++) {
    const value = parseJsonText(decisionLine(`${prefix}-${n}`, n, contextBytes)) as Record<string, unknown>
    engine.apply(toLoggedEvent(toIncomingEvent('decision', value, LIMITS), n + 1, START_MS + n))
  }
  const after = collect()
  return {
    // The engine keeps most of its state in typed arrays, whose contents are outside the V8 heap.
    heapPerDecision:
      (after.heapUsed + after.arrayBuffers - before.heapUsed - before.arrayBuffers) / decisions,
    rssPerDecision: (after.rss - before.rss) / decisions,
    pending: engine.pendingDecisions,
  }
})
