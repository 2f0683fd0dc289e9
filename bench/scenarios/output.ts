import { countLines } from '../lib/output-file.js'
import { OFFERED_PER_S, PACING, pacedLoad } from '../lib/paced-load.js'
import { withService } from '../lib/service-run.js'
import { LOAD_CORE, startWorker } from '../lib/workers.js'
import { cpuCores, met, num, ratio, row, stat } from '../report/format.js'
import type { ConsumerConfig, ConsumerResult } from '../workers/joined-consumer.js'
import type { Scenario } from './types.js'

const EXP_UNIT_MS = 1000
/** "Keeps up": every record arrives, at ≥ 98 % of the ingest rate, most within a second of emission. */
const KEEP_UP_RATIO = 0.98
const KEEP_UP_DELAY_MS = 1000

/** A file output plus a GET /joined consumer at the lateness scenario's rate. */
export const output: Scenario = {
  id: 'output',
  title: 'Output: file + GET /joined consumer',
  method: `A consumer process (core 1) reads GET /joined while the paced load (${PACING.batchSize} decisions every ${PACING.intervalMs} ms) runs for 30 s (quick: 5 s), EXP_UNIT_MS=${EXP_UNIT_MS}, DURABILITY=power, OUTPUT=file. From the consumer side: records/s between the first and last arrival, arrival − emitted_ms per record, and the most records emitted (by emitted_ms) but not yet received at any moment; then the file's records are counted.`,
  async run(context) {
    const seconds = context.options.quick ? 5 : 30
    return withService('output', { EXP_UNIT_MS: String(EXP_UNIT_MS) }, async (server, files) => {
      let connected: () => void = () => {}
      const ready = new Promise<void>((resolve) => {
        connected = resolve
      })
      const config: ConsumerConfig = { url: server.url, drainTimeoutMs: EXP_UNIT_MS + 15_000 }
      const consumer = startWorker<ConsumerResult>('joined-consumer', config, {
        cpu: LOAD_CORE,
        timeoutMs: seconds * 1000 + 120_000,
        onMessage: (message) => {
          if (message.type === 'ready') connected()
        },
      })
      await Promise.race([ready, consumer.result])
      const { sender, cpu } = await pacedLoad(server, seconds, { consumer: consumer.pid })
      consumer.send({ type: 'expect', count: sender.acked })
      const received = await consumer.result
      await server.stop()
      const fileRecords = await countLines(files.output)
      return {
        figures: {
          delivered_per_s: received.ratePerSecond,
          ingest_per_s: sender.ratePerSecond,
          delay_p50_ms: received.delayMs.p50,
          delay_p99_ms: received.delayMs.p99,
          delay_max_ms: received.delayMs.max,
          max_lag_records: received.maxLagRecords,
          missing: sender.acked - received.received,
          file_missing: sender.acked - fileRecords,
          out_of_order: received.outOfOrder,
          server_cores: cpu.serverCores,
          loadgen_cores: cpu.loadgenCores,
          other_cores: cpu.otherCores,
        },
        details: { acked: sender.acked, received, fileRecords, sender },
      }
    })
  },
  rows(view) {
    const s = view.get(output.id)
    if (s === undefined) return []
    const delivered = s.delivered_per_s?.median
    const ingest = s.ingest_per_s?.median
    const complete = s.missing?.max === 0 && s.file_missing?.max === 0 && s.out_of_order?.max === 0
    const keepsUp =
      delivered === undefined || ingest === undefined
        ? undefined
        : complete && delivered >= KEEP_UP_RATIO * ingest && (s.delay_p99_ms?.median ?? 0) <= KEEP_UP_DELAY_MS
    return [
      row(view, output.id, {
        measure: 'records/s delivered to a GET /joined consumer',
        banditjoin: stat(s.delivered_per_s),
        reference: `ingest ${stat(s.ingest_per_s)} (offered ${num(OFFERED_PER_S)})`,
        ratio: ratio(delivered, ingest),
        target: `keeps up: all delivered, ≥ ${KEEP_UP_RATIO} × ingest, p99 lag ≤ ${KEEP_UP_DELAY_MS / 1000} s`,
        met: met(keepsUp),
      }),
      row(view, output.id, {
        measure: 'lag: arrival − emitted_ms p50 / p99 / max (ms); most records behind',
        banditjoin: `${num(s.delay_p50_ms?.median, 1)} / ${num(s.delay_p99_ms?.median, 1)} / ${num(s.delay_max_ms?.median, 1)}; ${num(s.max_lag_records?.median)}`,
      }),
      row(view, output.id, {
        measure: 'missing at consumer / in file (worst run); CPU server / load gen. / rest',
        banditjoin: `${num(s.missing?.max)} / ${num(s.file_missing?.max)}; ${cpuCores(s)}`,
      }),
    ]
  },
}
