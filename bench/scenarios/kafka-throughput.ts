import { driveWithAutocannon } from '../lib/drive.js'
import { brokerPids, kafkaUnavailable, withKafkaCluster } from '../lib/kafka-cluster.js'
import { withKafkaInstances } from '../lib/kafka-instances.js'
import { num, ratio, row, stat } from '../report/format.js'
import { kafkaCpuCores } from '../report/kafka-format.js'
import { loadWindows, SINGLE_EVENT_CONNECTIONS, THROUGHPUT_EXP_UNIT_MS } from './http-settings.js'
import { brokersLabel, kafkaWarmupSeconds } from './kafka-settings.js'
import type { Figures, Scenario, TableRow } from './types.js'

const INSTANCES = [1, 2] as const
/** The embedded mode's figures of the same invocation, compared with. */
const EMBEDDED = ['decision-reward-power', 'decision-reward-process'] as const

/** "i2_requests_per_s": figure `name` of the measurement with `instances` instances. */
const figure = (instances: number, name: string) => `i${instances}_${name}`

/**
 * The decision-reward scenario's single-event load against the Kafka mode on `brokers` brokers,
 * with 1 then 2 instances (in one run, on one cluster), compared with the embedded mode.
 */
function kafkaThroughput(brokers: 1 | 3): Scenario {
  const id = `kafka-throughput-${brokers}`
  return {
    id,
    skip: kafkaUnavailable,
    title: `Single events, Kafka mode, ${brokersLabel(brokers)}`,
    method: `A fresh Kafka 4.4 KRaft cluster of ${brokersLabel(brokers)} on loopback ports (JVMs with default JIT and GC, -Xmx512m, not pinned); banditjoin in the Kafka mode (6 partitions, EXP_UNIT_MS=${THROUGHPUT_EXP_UNIT_MS}, records going to the output topic during the window) with 1 instance, then 2 instances in one group (the other order in even-numbered runs; fresh topics each, load after the group has spread the partitions); the decision-reward scenario's load (a 10 s warm-up, quick: 5 s, then the measured window; 64 connections, two POST /log_decision then a POST /log_reward for the second; with 2 instances autocannon spreads the connections over both). CPU of the instances together, of the brokers, of the load generator and of the rest of the machine during the measured window.`,
    needs: [...EMBEDDED],
    async run(context, index) {
      // Alternate runs measure 2 instances first, so that neither always gets the coldest broker.
      const order = index % 2 === 0 ? INSTANCES : [...INSTANCES].reverse()
      return withKafkaCluster(brokers, async (cluster) => {
        const figures: Figures = {}
        const details: Record<string, unknown> = { bootstrap: cluster.bootstrap, order }
        for (const instances of order) {
          const outcome = await withKafkaInstances(
            cluster,
            instances,
            { EXP_UNIT_MS: THROUGHPUT_EXP_UNIT_MS },
            ({ servers }) =>
              driveWithAutocannon(
                servers,
                {
                  profile: 'decision-reward',
                  connections: SINGLE_EVENT_CONNECTIONS,
                  ...loadWindows(context.options.quick),
                  warmupSeconds: kafkaWarmupSeconds(context.options.quick),
                },
                brokerPids(cluster),
              ),
          )
          for (const [name, value] of Object.entries(outcome.figures))
            figures[figure(instances, name)] = value
          details[`instances_${instances}`] = outcome.details
        }
        // The caveats read these: the worst of both measurements.
        figures.other_cores = Math.max(...INSTANCES.map((i) => figures[figure(i, 'other_cores')] ?? 0))
        figures.loadgen_cores = Math.max(...INSTANCES.map((i) => figures[figure(i, 'loadgen_cores')] ?? 0))
        return { figures, details }
      })
    },
    rows(view) {
      const s = view.get(id)
      if (s === undefined) return []
      const [power, process] = EMBEDDED.map((e) => view.get(e))
      const embedded = `embedded ${stat(power?.requests_per_s)} (power), ${stat(process?.requests_per_s)} (process)`
      return INSTANCES.flatMap((instances): TableRow[] => {
        const f = (name: string) => s[figure(instances, name)]
        const label = instances === 1 ? '1 instance' : `${instances} instances`
        return [
          row(view, id, {
            measure: `${label}: requests/s`,
            banditjoin: stat(f('requests_per_s')),
            reference: embedded,
            ratio: ratio(f('requests_per_s')?.median, power?.requests_per_s?.median),
          }),
          row(view, id, {
            measure: `${label}: latency p50 / p99 (ms); non-2xx + errors`,
            banditjoin: `${num(f('latency_p50_ms')?.median, 1)} / ${num(f('latency_p99_ms')?.median, 1)}; ${num((f('non2xx')?.max ?? 0) + (f('errors')?.max ?? 0))}`,
            reference: `embedded (power) ${num(power?.latency_p50_ms?.median, 1)} / ${num(power?.latency_p99_ms?.median, 1)}`,
          }),
          row(view, id, {
            measure: `${label}: CPU banditjoin / brokers / load gen. / rest (cores)`,
            banditjoin: kafkaCpuCores(s, figure(instances, '')),
            reference: `embedded (power) ${num(power?.server_cores?.median, 2)} / – / ${num(power?.loadgen_cores?.median, 2)} / ${num(power?.other_cores?.median, 2)}`,
          }),
        ]
      })
    },
  }
}

export const kafkaThroughput1 = kafkaThroughput(1)
export const kafkaThroughput3 = kafkaThroughput(3)
