/**
 * The backend conformance suite on Kafka: a real 1-broker KRaft cluster, the built CLI with
 * KAFKA_BROKERS, real sockets, real time; records and dead letters read from their topics as a
 * learner reads them (read_committed).
 */

import { type KafkaCluster, kafkaUnavailable, startKafkaCluster } from '../kit/kafka-cluster.js'
import { TopicReader } from '../kit/kafka-topic.js'
import { type ReadyProcess, spawnCli } from '../kit/spawn.js'
import { sleep } from '../kit/wait.js'
import { conformance, type Line, SCENARIO_ENV } from './join-scenarios.js'

const PARTITIONS = 3

let cluster: KafkaCluster
let service: ReadyProcess
let readers: TopicReader[] = []

conformance(
  async () => {
    cluster = await startKafkaCluster({ brokers: 1 })
    service = await spawnCli({
      ...SCENARIO_ENV,
      KAFKA_BROKERS: cluster.bootstrap,
      KAFKA_PARTITIONS: String(PARTITIONS),
      KAFKA_TOPIC_PREFIX: 'conformance',
      LOG_LEVEL: 'debug',
    })
    const records = new TopicReader(cluster.bootstrap, 'conformance.joined')
    const deadLetters = new TopicReader(cluster.bootstrap, 'conformance.dead-letters')
    readers = [records, deadLetters]
    await Promise.all(readers.map((r) => r.start()))
    return {
      name: 'kafka',
      conflictsAt: 'join',
      order: 'partition',
      url: service.url,
      records: async () => records.lines() as Line[],
      deadLetters: async () => deadLetters.lines() as Line[],
      log: () => service.stderr(),
      freshlyRead: async (key) => {
        const joinedTopic = new TopicReader(cluster.bootstrap, 'conformance.joined')
        const eventsTopic = new TopicReader(cluster.bootstrap, 'conformance.events')
        const fresh = [joinedTopic, eventsTopic]
        await Promise.all(fresh.map((r) => r.start()))
        await sleep(3000)
        await Promise.all(fresh.map((r) => r.close()))
        const [joined, events] = fresh.map((r) =>
          r.values.flatMap((value, i) =>
            String(value).includes(key) ? [`partition ${r.partitions[i]}: ${value}`] : [],
          ),
        )
        // A tick is a record with no value.
        const ticksPerPartition = Array.from({ length: PARTITIONS }, (_, p) =>
          eventsTopic.partitions.filter((q, i) => q === p && !eventsTopic.values[i]),
        ).map((ticks) => ticks.length)
        return `a fresh reader finds in the joined topic: ${JSON.stringify(joined)}; in the events topic: ${JSON.stringify(events)}, and ticks per partition ${JSON.stringify(ticksPerPartition)}`
      },
    }
  },
  async () => {
    service?.process.kill('SIGTERM')
    await service?.exited
    await Promise.all(readers.map((r) => r.close()))
    await cluster?.stop()
  },
  kafkaUnavailable(),
)
