import { driveWithAutocannon } from '../lib/drive.js'
import { brokerPids, kafkaUnavailable, withKafkaCluster } from '../lib/kafka-cluster.js'
import { withKafkaInstances } from '../lib/kafka-instances.js'
import { met, num, ratio, row, stat } from '../report/format.js'
import { kafkaCpuCores } from '../report/kafka-format.js'
import { BATCH_CONNECTIONS, BATCH_LINES, batchPower } from './batch.js'
import { loadWindows, THROUGHPUT_EXP_UNIT_MS } from './http-settings.js'
import { kafkaWarmupSeconds } from './kafka-settings.js'
import type { Scenario } from './types.js'

const TARGET = 50_000

/** The batch scenario's load (POST /events, 1,000 events a request) against the Kafka mode on 1 broker. */
export const kafkaBatch1: Scenario = {
  id: 'kafka-batch-1',
  title: 'NDJSON batches, Kafka mode, 1 broker',
  method: `A fresh Kafka 4.4 KRaft node (as kafka-throughput-1); 1 banditjoin instance in the Kafka mode (6 partitions, EXP_UNIT_MS=${THROUGHPUT_EXP_UNIT_MS}); the batch scenario's load: POST /events with ${BATCH_LINES} events per request (two decisions with 150-byte contexts, then a reward for the second), ${BATCH_CONNECTIONS} connections, a warm-up, then the measured window. A request is answered once the broker acknowledged its events. CPU of the instance, the broker, the load generator and the rest of the machine during the window; compared with the embedded mode's batch-power of the same invocation.`,
  needs: [batchPower.id],
  skip: kafkaUnavailable,
  async run(context) {
    return withKafkaCluster(1, (cluster) =>
      withKafkaInstances(cluster, 1, { EXP_UNIT_MS: THROUGHPUT_EXP_UNIT_MS }, ({ servers }) =>
        driveWithAutocannon(
          servers,
          {
            profile: 'batch',
            batchLines: BATCH_LINES,
            connections: BATCH_CONNECTIONS,
            ...loadWindows(context.options.quick),
            warmupSeconds: kafkaWarmupSeconds(context.options.quick),
          },
          brokerPids(cluster),
        ),
      ),
    )
  },
  rows(view) {
    const s = view.get(kafkaBatch1.id)
    if (s === undefined) return []
    const embedded = view.get(batchPower.id)
    const eps = s.events_per_s?.median
    return [
      row(view, kafkaBatch1.id, {
        measure: `events/s (${BATCH_LINES} per request), 1 instance`,
        banditjoin: stat(s.events_per_s),
        reference: `embedded (power) ${stat(embedded?.events_per_s)}`,
        ratio: ratio(eps, embedded?.events_per_s?.median),
        target: `≥ ${num(TARGET)}`,
        met: met(eps === undefined ? undefined : eps >= TARGET),
      }),
      row(view, kafkaBatch1.id, {
        measure: 'latency p50 / p99 (ms); CPU banditjoin / broker / load gen. / rest (cores)',
        banditjoin: `${num(s.latency_p50_ms?.median, 1)} / ${num(s.latency_p99_ms?.median, 1)}; ${kafkaCpuCores(s)}`,
      }),
    ]
  },
}
