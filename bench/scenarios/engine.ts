import { startWorker } from '../lib/workers.js'
import { met, num, ratio, row, stat } from '../report/format.js'
import type { EngineConfig, EngineResult } from '../workers/engine.js'
import type { Scenario } from './types.js'

const TARGET = 2_000_000
/** Flink's windowed stream-stream join (Nexmark q8), per core, as the benchmark's targets quote it. */
const FLINK_Q8_PER_CORE = 146_000
const ENGINE_CORE = 0

/** The join engine alone in a process pinned to one core: apply + emit. */
export const engine: Scenario = {
  id: 'engine',
  title: 'Engine alone (no I/O)',
  method: `A worker pinned to core ${ENGINE_CORE} builds the log (decisions with 150-byte contexts through the service's own ingest normalisation, a reward for every second decision, 100 events per log millisecond, E = 10 s, G = 120 s) in chunks of 10,000 events, each built untimed just before it is applied, as a service receives them (not all up front, which kept 1.5 M input objects alive for the collector to mark through the pass); runs one warm-up pass, then times apply() of every event plus the advanceTo() that releases every record, on a fresh engine with a counting sink.`,
  async run(context) {
    const decisions = context.options.quick ? 300_000 : 1_000_000
    const worker = startWorker<EngineResult>(
      'engine',
      { decisions, eventsPerMs: 100 } satisfies EngineConfig,
      {
        cpu: ENGINE_CORE,
        nodeArgs: ['--expose-gc'],
        timeoutMs: 300_000,
      },
    )
    const result = await worker.result
    return {
      figures: { events_per_s: result.eventsPerSecond, seconds: result.seconds, cores: result.cores },
      details: { ...result },
    }
  },
  rows(view) {
    const s = view.get(engine.id)
    if (s === undefined) return []
    const eps = s.events_per_s?.median
    return [
      row(view, engine.id, {
        measure: 'events/s on one core (apply + emit)',
        banditjoin: stat(s.events_per_s),
        reference: `Flink Nexmark q8 ≈ ${num(FLINK_Q8_PER_CORE)}/core`,
        ratio: ratio(eps, FLINK_Q8_PER_CORE),
        target: `≥ ${num(TARGET)}`,
        met: met(eps === undefined ? undefined : eps >= TARGET),
      }),
    ]
  },
}
