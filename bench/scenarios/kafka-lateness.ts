import { brokerPids, kafkaUnavailable, withKafkaCluster } from '../lib/kafka-cluster.js'
import { withKafkaInstances } from '../lib/kafka-instances.js'
import { latenessOf, readJoined } from '../lib/kafka-output.js'
import { pacedLoad } from '../lib/paced-load.js'
import { tail } from '../lib/stats.js'
import { num, ratio, row, stat } from '../report/format.js'
import { kafkaCpuCores } from '../report/kafka-format.js'
import {
  brokersLabel,
  KAFKA_EXP_UNIT_MS,
  KAFKA_OFFERED_PER_S,
  KAFKA_PACING,
  kafkaLatenessWarmupSeconds,
} from './kafka-settings.js'
import type { Scenario } from './types.js'

/** How long the output may take to hold every acknowledged decision after the load. */
const DRAIN_MS = KAFKA_EXP_UNIT_MS + 30_000

/** Emission lateness of the Kafka mode under paced decisions, read from the output topic. */
function kafkaLateness(brokers: 1 | 3, instances: 1 | 2): Scenario {
  const id = `kafka-lateness-${brokers}`
  const instancesLabel = instances === 1 ? '1 instance' : `${instances} instances`
  return {
    id,
    skip: kafkaUnavailable,
    title: `Emission lateness, Kafka mode, ${brokersLabel(brokers)}, ${instancesLabel}`,
    method: `A fresh KRaft cluster of ${brokersLabel(brokers)} (as kafka-throughput), banditjoin in the Kafka mode with ${instancesLabel} (6 partitions, EXP_UNIT_MS=${KAFKA_EXP_UNIT_MS}); NDJSON batches of ${KAFKA_PACING.batchSize} decisions every ${KAFKA_PACING.intervalMs} ms (${num(KAFKA_OFFERED_PER_S)}/s, paced from core 1${instances > 1 ? ', batches alternating between the instances' : ''}) first for a warm-up of ${kafkaLatenessWarmupSeconds(false)} s (quick: ${kafkaLatenessWarmupSeconds(true)} s), then for the measured 20 s (quick: 10 s); then the output topic PREFIX.joined is read from its start (read_committed) until it holds every acknowledged decision: lateness = emitted_ms − (decision_insert_ms + EXP_UNIT_MS) of every record (decision_insert_ms is the broker's LogAppendTime; broker and instances share the machine's clock), the decisions the broker appended during the measured window apart from those of the warm-up (the cold figures: a fresh broker JVM still compiling).`,
    async run(context) {
      const seconds = context.options.quick ? 10 : 20
      return withKafkaCluster(brokers, (cluster) =>
        withKafkaInstances(
          cluster,
          instances,
          { EXP_UNIT_MS: String(KAFKA_EXP_UNIT_MS) },
          async ({ servers, joinedTopic }) => {
            const load = { pacing: KAFKA_PACING, others: brokerPids(cluster) }
            const warmup = await pacedLoad(
              servers,
              kafkaLatenessWarmupSeconds(context.options.quick),
              {},
              load,
            )
            const measuredFromMs = Date.now()
            const { sender, cpu } = await pacedLoad(servers, seconds, {}, load)
            const acked = warmup.sender.acked + sender.acked
            const output = await readJoined(cluster.bootstrap, joinedTopic, acked, DRAIN_MS)
            const measured = output.records.filter((r) => r.decisionInsertMs >= measuredFromMs)
            const cold = output.records.filter((r) => r.decisionInsertMs < measuredFromMs)
            const late = tail(latenessOf(measured, KAFKA_EXP_UNIT_MS))
            const coldLate = tail(latenessOf(cold, KAFKA_EXP_UNIT_MS))
            return {
              figures: {
                lateness_p50_ms: late.p50,
                lateness_p99_ms: late.p99,
                lateness_max_ms: late.max,
                cold_lateness_p50_ms: coldLate.p50,
                cold_lateness_p99_ms: coldLate.p99,
                cold_lateness_max_ms: coldLate.max,
                cold_broker_cores: warmup.cpu.groups.broker ?? Number.NaN,
                achieved_per_s: sender.ratePerSecond,
                refused_batches: sender.refusedBatches,
                missing_records: acked - output.distinct,
                duplicate_records: output.duplicates,
                server_cores: cpu.serverCores,
                broker_cores: cpu.groups.broker ?? Number.NaN,
                loadgen_cores: cpu.loadgenCores,
                other_cores: cpu.otherCores,
                send_slip_p99_ms: sender.slipMs.p99,
                blocked_batches: sender.blockedBatches,
              },
              details: { records: output.records.length, measured: measured.length, acked, sender },
            }
          },
        ),
      )
    },
    rows(view) {
      const s = view.get(id)
      if (s === undefined) return []
      const embedded = view.get('lateness')
      return [
        row(view, id, {
          measure: `${instancesLabel}: emitted_ms − due p50 / p99 / max (ms), after the warm-up`,
          banditjoin: `${num(s.lateness_p50_ms?.median, 1)} / ${num(s.lateness_p99_ms?.median, 1)} / ${num(s.lateness_max_ms?.median, 1)}`,
          reference:
            embedded === undefined
              ? `p99 ${stat(s.lateness_p99_ms, 1)}`
              : `embedded at 20k/s: ${num(embedded.lateness_p50_ms?.median, 1)} / ${num(embedded.lateness_p99_ms?.median, 1)} / ${num(embedded.lateness_max_ms?.median, 1)}`,
        }),
        row(view, id, {
          measure: `same, the first ${kafkaLatenessWarmupSeconds(false)} s after the brokers started (warm-up); brokers' cores`,
          banditjoin: `${num(s.cold_lateness_p50_ms?.median, 1)} / ${num(s.cold_lateness_p99_ms?.median, 1)} / ${num(s.cold_lateness_max_ms?.median, 1)}; ${num(s.cold_broker_cores?.median, 2)}`,
        }),
        row(view, id, {
          measure: 'decisions/s acked; missing / duplicated records (worst run)',
          banditjoin: `${stat(s.achieved_per_s)}; ${num(s.missing_records?.max)} / ${num(s.duplicate_records?.max)}`,
          reference: `offered ${num(KAFKA_OFFERED_PER_S)}`,
          ratio: ratio(s.achieved_per_s?.median, KAFKA_OFFERED_PER_S),
        }),
        row(view, id, {
          measure: 'CPU banditjoin / brokers / load gen. / rest (cores)',
          banditjoin: kafkaCpuCores(s),
        }),
      ]
    },
  }
}

export const kafkaLateness1 = kafkaLateness(1, 1)
export const kafkaLateness3 = kafkaLateness(3, 2)
