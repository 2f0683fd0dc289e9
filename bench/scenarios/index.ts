import { baseline } from './baseline.js'
import { batchPower } from './batch.js'
import { decisionRewardPower, decisionRewardProcess } from './decision-reward.js'
import { disk } from './disk.js'
import { engine } from './engine.js'
import { kafkaBatch1 } from './kafka-batch.js'
import { kafkaFailover } from './kafka-failover.js'
import { kafkaLateness1, kafkaLateness3 } from './kafka-lateness.js'
import { kafkaOwnerJoin } from './kafka-owner-join.js'
import { kafkaThroughput1, kafkaThroughput3 } from './kafka-throughput.js'
import { lateness } from './lateness.js'
import { longWindow5m, longWindowSteady } from './long-window.js'
import { memory, memory2k } from './memory.js'
import { output } from './output.js'
import { overload } from './overload.js'
import { restart } from './restart.js'
import { retryStorm } from './retry-storm.js'
import type { Scenario } from './types.js'

/** Every scenario, in the order they run (restart after memory, whose data dir it reuses). */
export const SCENARIOS: readonly Scenario[] = [
  disk,
  baseline,
  decisionRewardPower,
  decisionRewardProcess,
  batchPower,
  engine,
  lateness,
  memory,
  restart,
  memory2k,
  longWindow5m,
  longWindowSteady,
  output,
  overload,
  retryStorm,
  // The Kafka mode, last: each starts and stops its own brokers.
  kafkaThroughput1,
  kafkaThroughput3,
  kafkaBatch1,
  kafkaLateness1,
  kafkaLateness3,
  kafkaOwnerJoin,
  kafkaFailover,
]
