import { type KafkaCluster, startKafkaCluster } from '../../test/kit/kafka-cluster.js'

/** A Kafka scenario's `skip`: why no broker can run here (its jars are fetched on first use). */
export { kafkaUnavailable } from '../../test/kit/kafka-cluster.js'
export type { KafkaCluster }

/** Partitions of the topics banditjoin creates in the Kafka scenarios (the service's default). */
export const KAFKA_PARTITIONS = 6

/**
 * Runs `body` against a fresh KRaft cluster of 1 or 3 nodes on loopback ports (3: replication
 * factor 3, min.insync.replicas 2), with the JVM's default JIT and GC (not the tests' fast-start
 * flags), then kills the nodes and removes their data, whatever happens. Should the harness die
 * first, the helper's exit handler and watchdog kill them.
 */
export async function withKafkaCluster<T>(
  brokers: 1 | 3,
  body: (cluster: KafkaCluster) => Promise<T>,
): Promise<T> {
  const cluster = await startKafkaCluster({ brokers, jvmArgs: [], heapMb: 512, startTimeoutMs: 120_000 })
  try {
    return await body(cluster)
  } finally {
    await cluster.stop()
  }
}

/** The brokers' JVMs, for the CPU meter (`{ broker: [pids] }`: figure `broker_cores`). */
export function brokerPids(cluster: KafkaCluster): { broker: number[] } {
  return { broker: cluster.brokers.flatMap((node) => (node.pid === undefined ? [] : [node.pid])) }
}
