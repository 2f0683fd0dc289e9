import { offeredPerSecond, type Pacing } from '../lib/paced-load.js'

/** The Kafka scenarios' window E (as the embedded lateness and throughput scenarios). */
export const KAFKA_EXP_UNIT_MS = 1000

/**
 * Paced decisions for the Kafka lateness and failover scenarios: 20 every 10 ms, 2,000/s (a tenth
 * of the embedded lateness scenario's rate: the brokers' JVMs share the 2 cores).
 */
export const KAFKA_PACING: Pacing = { batchSize: 20, intervalMs: 10, concurrency: 32 }
export const KAFKA_OFFERED_PER_S = offeredPerSecond(KAFKA_PACING)

/**
 * Warm-up before each Kafka throughput window: longer than the embedded scenarios' (1-2 s), as a
 * fresh broker JVM needs several seconds under load before its JIT has compiled the hot paths
 * (the first seconds run at a third to a half of the later rate).
 */
export function kafkaWarmupSeconds(quick: boolean): number {
  return quick ? 5 : 10
}

/**
 * The same paced load before the Kafka lateness window: a fresh broker JVM at 2,000 decisions/s
 * takes 30-40 s to compile its hot paths (its CPU falls from 1.3 to 0.6-0.8 cores, and the p99
 * from 175-280 ms to 31-56 ms; ad hoc probe of 10 s windows, 2026-12-07). The cold window is
 * reported on a row of its own.
 */
export function kafkaLatenessWarmupSeconds(quick: boolean): number {
  return quick ? 10 : 30
}

/** "1 broker", "3 brokers". */
export function brokersLabel(brokers: 1 | 3): string {
  return brokers === 1 ? '1 broker' : '3 brokers (RF 3, min.insync.replicas 2)'
}
