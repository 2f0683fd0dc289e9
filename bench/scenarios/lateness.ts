import { readLateness } from '../lib/output-file.js'
import { OFFERED_PER_S, PACING, pacedLoad, waitForEmitted } from '../lib/paced-load.js'
import { withService } from '../lib/service-run.js'
import { tail } from '../lib/stats.js'
import { cpuCores, met, num, ratio, row, stat } from '../report/format.js'
import type { Scenario } from './types.js'

const EXP_UNIT_MS = 1000
const TARGET_P99_MS = 5

/** Emission lateness at 20k decisions/s sustained, read from the file output afterwards. */
export const lateness: Scenario = {
  id: 'lateness',
  title: 'Emission lateness at 20k decisions/s',
  method: `NDJSON batches of ${PACING.batchSize} decisions every ${PACING.intervalMs} ms (paced, from core 1) for 60 s (quick: 10 s), EXP_UNIT_MS=${EXP_UNIT_MS}, DURABILITY=power, OUTPUT=file; once every acknowledged decision was emitted (banditjoin_records_emitted_total) the service is stopped and the file read: lateness = emitted_ms − (decision_insert_ms + EXP_UNIT_MS) of every record.`,
  async run(context) {
    const seconds = context.options.quick ? 10 : 60
    return withService('lateness', { EXP_UNIT_MS: String(EXP_UNIT_MS) }, async (server, files) => {
      const { sender, cpu } = await pacedLoad(server, seconds)
      const emitted = await waitForEmitted(server, sender.acked, EXP_UNIT_MS + 15_000)
      await server.stop()
      const late = tail(await readLateness(files.output, EXP_UNIT_MS))
      return {
        figures: {
          lateness_p50_ms: late.p50,
          lateness_p99_ms: late.p99,
          lateness_max_ms: late.max,
          achieved_per_s: sender.ratePerSecond,
          refused_batches: sender.refusedBatches,
          missing_records: sender.acked - late.count,
          server_cores: cpu.serverCores,
          loadgen_cores: cpu.loadgenCores,
          other_cores: cpu.otherCores,
          send_slip_p99_ms: sender.slipMs.p99,
          blocked_batches: sender.blockedBatches,
        },
        details: { records: late.count, emittedMetric: emitted, sender },
      }
    })
  },
  rows(view) {
    const s = view.get(lateness.id)
    if (s === undefined) return []
    const p99 = s.lateness_p99_ms?.median
    const rate = s.achieved_per_s?.median
    return [
      row(view, lateness.id, {
        measure: 'emitted_ms − due: p50 / p99 / max (ms)',
        banditjoin: `${num(s.lateness_p50_ms?.median, 1)} / ${num(p99, 1)} / ${num(s.lateness_max_ms?.median, 1)}`,
        reference: `p99 ${stat(s.lateness_p99_ms, 1)}; missing ${num(s.missing_records?.max)}`,
        target: `p99 ≤ ${TARGET_P99_MS} ms, every record emitted`,
        met: met(p99 === undefined ? undefined : p99 <= TARGET_P99_MS && s.missing_records?.max === 0),
      }),
      row(view, lateness.id, {
        measure: 'decisions/s acked; CPU server / load gen. / rest',
        banditjoin: `${stat(s.achieved_per_s)}; ${cpuCores(s)}`,
        reference: `offered ${num(OFFERED_PER_S)}`,
        ratio: ratio(rate, OFFERED_PER_S),
        target: 'sustained, nothing refused',
        met: met(
          rate === undefined ? undefined : rate >= 0.98 * OFFERED_PER_S && s.refused_batches?.max === 0,
        ),
      }),
    ]
  },
}
