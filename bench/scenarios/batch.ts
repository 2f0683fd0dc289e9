import { driveWithAutocannon } from '../lib/drive.js'
import { withService } from '../lib/service-run.js'
import { cpuCores, met, num, ratio, row, stat } from '../report/format.js'
import { loadWindows, THROUGHPUT_EXP_UNIT_MS } from './http-settings.js'
import type { Scenario } from './types.js'

/** The batch load, which kafka-batch-1 sends to the Kafka mode too. */
export const BATCH_LINES = 1000
export const BATCH_CONNECTIONS = 8
const TARGET = 500_000

/** NDJSON POST /events, 1000 events per request, DURABILITY=power. */
export const batchPower: Scenario = {
  id: 'batch-power',
  title: 'NDJSON batches, DURABILITY=power',
  method: `POST /events with ${BATCH_LINES} events per request (two decisions with 150-byte contexts, then a reward for the second), ${BATCH_CONNECTIONS} connections, autocannon pinned to core 1, DURABILITY=power, EXP_UNIT_MS=${THROUGHPUT_EXP_UNIT_MS} (records emitted to a file output during the window), fresh data dir per run.`,
  async run(context) {
    return withService('batch', { DURABILITY: 'power', EXP_UNIT_MS: THROUGHPUT_EXP_UNIT_MS }, (server) =>
      driveWithAutocannon(server, {
        profile: 'batch',
        batchLines: BATCH_LINES,
        connections: BATCH_CONNECTIONS,
        ...loadWindows(context.options.quick),
      }),
    )
  },
  rows(view) {
    const s = view.get(batchPower.id)
    if (s === undefined) return []
    const eps = s.events_per_s?.median
    return [
      row(view, batchPower.id, {
        measure: `events/s (${BATCH_LINES} per request)`,
        banditjoin: stat(s.events_per_s),
        reference: `target ${num(TARGET)}`,
        ratio: ratio(eps, TARGET),
        target: `≥ ${num(TARGET)}`,
        met: met(eps === undefined ? undefined : eps >= TARGET),
      }),
      row(view, batchPower.id, {
        measure: 'latency p50 / p99 (ms); CPU server / load gen. / rest',
        banditjoin: `${num(s.latency_p50_ms?.median)} / ${num(s.latency_p99_ms?.median)}; ${cpuCores(s)}`,
      }),
      row(view, batchPower.id, {
        measure: 'non-2xx answers + errors',
        banditjoin: num((s.non2xx?.median ?? 0) + (s.errors?.median ?? 0)),
      }),
    ]
  },
}
